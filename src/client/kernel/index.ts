/** The kernel VFIO backend: real PCI devices through /dev/vfio (type1 container + group). */
export { KernelDeviceBackend } from "./kernel-backend.js";
export { KernelContainer, VFIO_CONTAINER_PATH } from "./kernel-container.js";
export { KernelGroup, type KernelGroupOptions } from "./kernel-group.js";
export { type KernelDeviceOptions, openKernelDevice } from "./open-device.js";
export { type PciAddress, PciSysfs, parsePciAddress, VFIO_PCI_DRIVER } from "./sysfs.js";
export type { IommuInfo } from "./uapi.js";
