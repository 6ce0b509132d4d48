/**
 * The code-generation table: which .proto files go into which generated module.
 *
 * A process loads only the bundles it uses: the shim daemon needs `shim` on every start, while the
 * cgroup metrics (`cgroups`) are needed only by Stats and are loaded lazily (proto/metrics.ts).
 * Adding a bundle (e.g. the supervisor API `tsrunc.supervisor.v1`, a CRI subset `runtime.v1`) is one
 * more row here; its .proto files may import files of other bundles only for google/protobuf types,
 * which every bundle carries itself.
 */

/** One generated module: `proto/gen/<name>.js` + `.d.ts`, and optionally service stubs. */
export interface BundleSpec {
  /** File stem under proto/gen/, and the protobufjs roots name (`tsrunc-<name>`). */
  readonly name: string;
  /** .proto files, relative to proto/ (imports are resolved against proto/ as well). */
  readonly files: readonly string[];
  /** File under proto/gen/ receiving service definitions + interfaces (service-stubs.ts), if any. */
  readonly stubs?: string;
  /**
   * What the stubs are for: `ttrpc` (default: ttrpc-ts definitions + one interface per service, unary
   * only) or `grpc` (grpc-js service definitions, streaming allowed; for the supervisor API).
   */
  readonly transport?: 'ttrpc' | 'grpc';
}

/** Every bundle, in generation order. */
export const BUNDLES: readonly BundleSpec[] = [
  {
    name: 'shim',
    files: [
      'containerd/events/task.proto',
      'containerd/linux/runc/runc.proto',
      'containerd/runc/v1/oci.proto',
      'containerd/services/ttrpc/events/v1/events.proto',
      'containerd/task/v2/shim.proto',
      'containerd/types/mount.proto',
      'containerd/types/task/task.proto',
      'google/rpc/status.proto',
      'runtimeoptions/v1/api.proto',
    ],
    stubs: 'services.ts',
  },
  {
    name: 'cgroups',
    files: ['cgroups/v1/metrics.proto', 'cgroups/v2/metrics.proto'],
  },
  {
    name: 'cri',
    files: ['cri/runtime/v1/api.proto'],
  },
  {
    name: 'supervisor',
    files: ['tsrunc/supervisor/v1/supervisor.proto'],
    stubs: 'supervisor.grpc.ts',
    transport: 'grpc',
  },
];
