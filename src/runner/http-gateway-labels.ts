/** Labels of the documented output formats, shared by the HTTP gateway and the CLI. */

/** How the documentation labels sessions a person started from a terminal. */
export const TERMINAL_LABEL = 'hapi directly - likely by user from terminal';
