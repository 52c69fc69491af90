/** A mistake of the user's: printed as is, exit 2, no stack trace. */
export class UsageError extends Error {}
