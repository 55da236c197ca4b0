// Outlast realtime for the browser: follow a run, or the runs with a tag, as they change.
//
//   import { subscribeToRun } from "https://outlast.example.com/static/realtime.js";
//
//   const subscription = subscribeToRun(runId, { token });   // a public token (olpt_…)
//   for await (const run of subscription) {
//     render(run.status, run.metadata.progress);            // a snapshot on every change
//   }                                                       // ends once the run is final
//
// A snapshot is the run's JSON as the API returns it (GET /api/v1/runs/{id}): the record
// the Python client's runs.subscribe() yields. Plain ES2020, no dependencies, no build.
//
// It wraps EventSource. On a dropped connection the browser reconnects by itself, sending
// Last-Event-ID; when it gives up (an error answer, or the server unreachable), a new
// EventSource resumes after the last event seen (?after=), backing off, up to
// `reconnects` failed attempts in a row. An answer that will not change by retrying
// (401 expired token, 403, 404) ends the iteration with a RealtimeError at once.
//
// The token travels in the URL (?access_token=), since EventSource cannot send headers:
// URLs end up in proxy and server logs, which is why it should be a public token — scoped
// to one run or tag, read-only and short-lived — and never an API key.

/** Failed connections in a row before the subscription gives up. */
export const RECONNECTS = 8;
const BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5000;

/**
 * A run as the API returns it; `metadata` is what the run published.
 * @typedef {Object} RunSnapshot
 * @property {string} id
 * @property {string} task_id
 * @property {string} status
 * @property {boolean} is_final
 * @property {Record<string, unknown>} metadata
 * @property {string[]} tags
 * @property {unknown} [output]
 * @property {{message?: string}|null} [error]
 */

/**
 * @typedef {Object} SubscribeOptions
 * @property {string} token  a public token from POST /api/v1/auth/public-tokens
 * @property {string} [baseUrl]  the Outlast server, e.g. "https://outlast.example.com"
 *   (default: the server this module was loaded from)
 * @property {number} [reconnects]  failed connections in a row before giving up
 * @property {AbortSignal} [signal]  aborting it closes the subscription
 */

/** Why a subscription ended early: `status` is the HTTP status (0: no answer). */
export class RealtimeError extends Error {
  /**
   * @param {string} message
   * @param {number} status
   * @param {string} code  the API's error code ("unauthorized", "forbidden", …)
   */
  constructor(message, status, code) {
    super(message);
    this.name = "RealtimeError";
    this.status = status;
    this.code = code;
  }
}

/**
 * Follow one run: a snapshot now and on every change, until the run is final.
 * @param {string} runId
 * @param {SubscribeOptions} options
 * @returns {RunSubscription}
 */
export function subscribeToRun(runId, options) {
  if (!runId) throw new TypeError("subscribeToRun needs a run id");
  return new RunSubscription(`api/v1/runs/${encodeURIComponent(runId)}/subscribe`, {},
    options, true);
}

/**
 * Follow the runs with a tag: recent ones, then every change; never ends by itself
 * (call `close()`, break out of the loop, or abort `options.signal`).
 * @param {string} tag
 * @param {SubscribeOptions} options
 * @returns {RunSubscription}
 */
export function subscribeToTag(tag, options) {
  if (!tag) throw new TypeError("subscribeToTag needs a tag");
  return new RunSubscription("api/v1/runs/subscribe", { tag }, options, false);
}

/**
 * Snapshots as an async iterator (`for await … of`), plus `close()`.
 * @implements {AsyncIterableIterator<RunSnapshot>}
 */
export class RunSubscription {
  /**
   * @param {string} path  below the server's base URL
   * @param {Record<string, string>} query
   * @param {SubscribeOptions} options
   * @param {boolean} untilFinal  end after a final snapshot
   */
  constructor(path, query, options, untilFinal) {
    if (!options || !options.token) {
      throw new TypeError("subscribe needs { token }: a public token made by your server");
    }
    this._url = new URL(path, serverBase(options.baseUrl));
    for (const [name, value] of Object.entries(query)) this._url.searchParams.set(name, value);
    this._token = options.token;
    this._untilFinal = untilFinal;
    this._reconnects = options.reconnects ?? RECONNECTS;
    /** @type {RunSnapshot[]} */
    this._queue = [];
    /** @type {{resolve: (r: IteratorResult<RunSnapshot>) => void, reject: (e: Error) => void}[]} */
    this._waiters = [];
    /** @type {Error|null} */
    this._error = null;
    this._done = false;
    this._failures = 0;
    /** @type {EventSource|null} */
    this._source = null;
    /** @type {ReturnType<typeof setTimeout>|null} */
    this._timer = null;
    /** The id of the last event received: where a new connection resumes. */
    this.lastEventId = "";
    if (options.signal) {
      if (options.signal.aborted) this._done = true;
      options.signal.addEventListener("abort", () => this.close(), { once: true });
    }
    if (!this._done) this._connect();
  }

  /** Stop following: the connection closes and the iteration ends. */
  close() {
    this._finish();
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  /** @returns {Promise<IteratorResult<RunSnapshot>>} */
  next() {
    if (this._queue.length > 0) {
      return Promise.resolve({ value: /** @type {RunSnapshot} */ (this._queue.shift()), done: false });
    }
    if (this._error) {
      const error = this._error;
      this._error = null;
      return Promise.reject(error);
    }
    if (this._done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this._waiters.push({ resolve, reject }));
  }

  /** Called by `break` in a `for await` loop. @returns {Promise<IteratorResult<RunSnapshot>>} */
  return() {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  /** The URL of a new connection: the token, and where to resume. */
  _connectionUrl() {
    const url = new URL(this._url.href);
    url.searchParams.set("access_token", this._token);
    if (this.lastEventId) url.searchParams.set("after", this.lastEventId);
    return url;
  }

  _connect() {
    this._timer = null;
    const url = this._connectionUrl();
    const source = new EventSource(url.href);
    this._source = source;
    source.addEventListener("open", () => { this._failures = 0; });
    source.addEventListener("run", (event) => this._received(/** @type {MessageEvent} */ (event)));
    source.addEventListener("error", () => this._lost(source, url));
  }

  /** @param {MessageEvent} event */
  _received(event) {
    if (this._done) return;
    if (event.lastEventId) this.lastEventId = event.lastEventId;
    let run;
    try {
      run = JSON.parse(event.data);
    } catch (_) {
      this._fail(new RealtimeError("the server sent a snapshot that is not JSON", 200, "bad_event"));
      return;
    }
    this._push(run);
    if (this._untilFinal && run.is_final) this._finish();
  }

  /**
   * The connection failed or dropped. While the browser reconnects by itself (CONNECTING)
   * it is left to do so; once it gave up (CLOSED), ask the server why, then retry or stop.
   * @param {EventSource} source
   * @param {URL} url
   */
  _lost(source, url) {
    if (this._done || source !== this._source) return;
    this._failures += 1;
    if (this._failures > this._reconnects) {
      this._fail(new RealtimeError(`no connection to ${url.origin} after ${this._reconnects} ` +
        "attempts (is this page's origin in the server's cors_origins?)", 0, "unreachable"));
      return;
    }
    if (source.readyState !== EventSource.CLOSED) return;
    source.close();
    this._source = null;
    diagnose(url).then((error) => {
      if (this._done) return;
      if (error) this._fail(error);
      else this._timer = setTimeout(() => this._connect(), backoff(this._failures));
    });
  }

  /** @param {RunSnapshot} run */
  _push(run) {
    const waiter = this._waiters.shift();
    if (waiter) waiter.resolve({ value: run, done: false });
    else this._queue.push(run);
  }

  /** @param {Error} error */
  _fail(error) {
    if (this._done) return;
    this._stop();
    const waiters = this._waiters.splice(0);
    if (waiters.length > 0) waiters.forEach((w) => w.reject(error));
    else this._error = error;  // after the snapshots still queued
  }

  _finish() {
    if (this._done) return;
    this._stop();
    this._waiters.splice(0).forEach((w) => w.resolve({ value: undefined, done: true }));
  }

  _stop() {
    this._done = true;
    if (this._source) this._source.close();
    this._source = null;
    if (this._timer !== null) clearTimeout(this._timer);
    this._timer = null;
  }
}

/**
 * The server's base URL, ending in "/": `baseUrl`, else where this module came from.
 * @param {string|undefined} baseUrl
 */
function serverBase(baseUrl) {
  if (!baseUrl) return new URL("../", import.meta.url);
  return new URL(baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`, globalThis.location?.href);
}

/**
 * Why EventSource gave up on `url`: a RealtimeError for an answer that retrying will not
 * change (4xx but 408 and 429), else null (no answer, a 5xx, or it works again: retry).
 * @param {URL} url
 * @returns {Promise<RealtimeError|null>}
 */
async function diagnose(url) {
  const controller = new AbortController();
  try {
    const response = await fetch(url.href, { signal: controller.signal, cache: "no-store" });
    if (response.status < 400 || response.status >= 500 || [408, 429].includes(response.status)) {
      return null;
    }
    const body = await response.json().catch(() => ({}));
    const error = body && body.error ? body.error : {};
    return new RealtimeError(error.message || `HTTP ${response.status}`, response.status,
      error.code || "http_error");
  } catch (_) {
    return null;  // no answer (the server restarts, or this origin is not allowed): retry
  } finally {
    controller.abort();  // a working stream is not read here: the next EventSource will
  }
}

/** @param {number} failures */
function backoff(failures) {
  const base = Math.min(MAX_BACKOFF_MS, BACKOFF_MS * 2 ** Math.max(0, failures - 1));
  return base * (0.5 + Math.random());
}
