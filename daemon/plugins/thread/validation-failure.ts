/**
 * Arguments a tool or prompt refused by its input schema. It never leaves the plugin's
 * thread: the call's error is serialized with `validation: true`, which the host answers as
 * invalid params rather than as the plugin's failure.
 */
export class ValidationFailure extends Error {}
