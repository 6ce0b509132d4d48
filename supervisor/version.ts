/** The supervisor's version (daemon and CLI). */
export const VERSION = '0.1.0';
