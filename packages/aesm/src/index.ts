/** @cloister/aesm: The AESM protocol (proto2 messages, framing) and a client for out-of-process SGX quotes. */
export {};
