/**
 * Wire names of the services (PROTOCOL §6.7, §14). Plain strings: importing them loads nothing.
 */

/** The Task service as containerd 1.6–2.x calls it for shim protocol version 2. */
export const TASK_SERVICE_V2 = 'containerd.task.v2.Task';

/**
 * The same Task service under containerd 2.x's version-3 name: identical messages in package
 * `containerd.task.v3`. There is no v3 .proto here; register the v2 definition under this name too
 * (ttrpc-ts `renameService(TaskServiceDefinition, TASK_SERVICE_V3)`).
 */
export const TASK_SERVICE_V3 = 'containerd.task.v3.Task';

/** The events service containerd serves on its ttrpc socket; a shim calls its `Forward`. */
export const EVENTS_SERVICE = 'containerd.services.events.ttrpc.v1.Events';
