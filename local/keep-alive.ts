/**
 * Keep-alive of the local HTTP servers (the API gateway, the sandbox). A server that closes an idle
 * connection while its client is writing a new request on it makes that request fail with
 * `ECONNRESET` although the server never read it; for a send that must not be repeated it is an
 * unclear answer, reported in doubt. Node's default (5 s) is longer than some clients keep idle
 * sockets and shorter than others (and on a busy event loop the client's idle timer fires late):
 * servers must outlive their clients' idle sockets, so these keep them a minute, like AWS's load
 * balancers, and the SDK clients drop theirs after `IDLE_SOCKET_TIMEOUT_MS` (4 s).
 */
export const SERVER_KEEP_ALIVE_TIMEOUT_MS = 65_000;

/** `http.createServer` options with that keep-alive (headers may take as long, plus a second). */
export const keepAliveServerOptions = { keepAliveTimeout: SERVER_KEEP_ALIVE_TIMEOUT_MS, headersTimeout: SERVER_KEEP_ALIVE_TIMEOUT_MS + 1000 } as const;
