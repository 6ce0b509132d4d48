'use strict';
// Layering rules, checked by `npm run layers` (part of `npm test`).
//   native/, ttrpc/ and proto/ import nothing of ours; only native/ imports koffi;
//   shim/ and supervisor/ never import each other; no cycles anywhere;
//   inside shim/, imports only go down: manager → task → container → process → runc | stdio → reaper,
//   with events/, oom/, cgroups/ and util/ as leaves everyone above may use.
const ours = '^(shim|supervisor|native|proto|ttrpc|test|bench)/';

/** shim/<layer> may not import shim/<higher layer> */
const shimOrder = ['manager', 'task', 'container', 'process', 'runc|stdio', 'reaper'];
const shimLayerRules = shimOrder.slice(1).map((layer, i) => ({
  name: `shim-${layer.replace('|', '-')}-imports-down-only`,
  severity: 'error',
  comment: `shim/${layer} sits below ${shimOrder.slice(0, i + 1).join(', ')}`,
  from: { path: `^shim/(${layer})/` },
  to: { path: `^shim/(${shimOrder.slice(0, i + 1).join('|')})/` },
}));

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', from: {}, to: { circular: true } },
    {
      name: 'only-native-imports-koffi',
      severity: 'error',
      from: { pathNot: '^native/' },
      to: { path: 'node_modules/koffi' },
    },
    {
      name: 'native-is-a-leaf',
      severity: 'error',
      from: { path: '^native/' },
      to: { path: ours, pathNot: '^native/' },
    },
    {
      name: 'ttrpc-is-a-leaf',
      severity: 'error',
      from: { path: '^ttrpc/', pathNot: '^ttrpc/test/' },
      to: { path: ours, pathNot: '^ttrpc/' },
    },
    {
      name: 'proto-is-a-leaf',
      severity: 'error',
      from: { path: '^proto/', pathNot: '^proto/codegen/' },
      to: { path: ours, pathNot: '^proto/' },
    },
    { name: 'shim-not-supervisor', severity: 'error', from: { path: '^shim/' }, to: { path: '^supervisor/' } },
    { name: 'supervisor-not-shim', severity: 'error', from: { path: '^supervisor/' }, to: { path: '^shim/' } },
    {
      name: 'shim-leaves-stay-leaves',
      severity: 'error',
      comment: 'events/, oom/, cgroups/ and util/ are leaves: they may not reach up into the layered folders',
      from: { path: '^shim/(events|oom|cgroups|util)/' },
      to: { path: '^shim/(manager|task|container|process|runc|stdio|reaper)/' },
    },
    ...shimLayerRules,
    {
      name: 'production-code-not-tests',
      severity: 'error',
      from: { path: '^(shim|supervisor|native|proto|ttrpc)/', pathNot: '^ttrpc/test/' },
      to: { path: '^(test|ttrpc/test)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['require', 'node', 'default'], extensions: ['.ts', '.d.ts', '.js'] },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
