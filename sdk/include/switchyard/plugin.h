/* plugin.h: the versioned C ABI between the Switchyard runtime and a handler plugin (.so).
 *
 * This header is the only contract between the host and a plugin. It uses plain C types so
 * that a plugin built by another compiler (or in C) works. Rules, for both sides:
 *   - Memory allocated on one side is never freed on the other.
 *   - No exception ever crosses this boundary, in either direction.
 *
 * A plugin exports exactly one symbol, SWITCHYARD_PLUGIN_ENTRY (its name carries the ABI
 * major version), returning a pointer to a static descriptor. C++ authors do not write this by
 * hand: see handler.hpp, which turns a class into a descriptor with one macro.
 *
 * How ABI 1 grows (1.x releases keep every plugin and host of an older 1.x working):
 *   - Two structs carry their version and size as their first two fields: sy_plugin_descriptor
 *     (plugin to host) and sy_host_api (host to plugin). Each is handed over once, by pointer,
 *     and grows only at its end: a field is never removed, reordered or resized. A side sets
 *     struct_size to its sizeof, tail padding included, so a new field starts at or after the
 *     previous release's sizeof, never inside its tail padding (sy_host_api of 1.0 has 4 bytes
 *     of it on 64-bit platforms: its next field goes at offset 48 there).
 *   - Each has a minimum size for ABI 1 (SY_PLUGIN_DESCRIPTOR_MIN_SIZE, SY_HOST_API_MIN_SIZE:
 *     the fields of 1.0). The host refuses a descriptor smaller than its minimum, names the
 *     plugin's path and both sizes, and accepts any larger one; a host always passes at least
 *     SY_HOST_API_MIN_SIZE and may pass more.
 *   - A field that ends past the struct_size the other side declared is absent: it is never
 *     read and counts as NULL / 0. The host reads optional descriptor fields through
 *     SY_PLUGIN_HAS; a plugin reads every sy_host_api field past the first two through
 *     SY_HOST_HAS (the C++ SDK does), so it works with an older host whatever it expects.
 *     Both macros also treat a NULL pointer / zero value as absent.
 *   - sy_bytes, sy_event and sy_outcome carry no version or size: they are passed in arrays
 *     whose stride is the reader's sizeof, so they are fixed for all of ABI 1. Changing them
 *     takes a new major version (a new entry symbol).
 */
#ifndef SWITCHYARD_PLUGIN_H_
#define SWITCHYARD_PLUGIN_H_

#include <stddef.h>
#include <stdint.h>

#include "switchyard/version.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The plugin ABI version this header describes. A host refuses a plugin whose descriptor
 * carries another version, naming the plugin's path and both versions. */
#define SWITCHYARD_ABI_VERSION 1

/* The exported entry point's name. The major ABI version is part of the symbol so that a
 * plugin built for another major version cannot be called by mistake. */
#define SWITCHYARD_PLUGIN_ENTRY switchyard_plugin_entry_v1
#define SWITCHYARD_PLUGIN_ENTRY_NAME "switchyard_plugin_entry_v1"

/* Longest reason a plugin can report for one event (including the terminating NUL). */
#define SWITCHYARD_REASON_MAX 512

/* A borrowed, not NUL-terminated byte range. Valid only during the call it is passed to. */
typedef struct sy_bytes {
  const char* data;
  size_t size;
} sy_bytes;

/* One message handed to a plugin. All fields are borrowed views into host memory, valid only
 * for the duration of the handle_batch call; copy what you keep. Fixed for all of ABI 1 (no
 * version or size: passed as an array). */
typedef struct sy_event {
  sy_bytes message; /* the envelope, byte for byte as the producer sent it */
  sy_bytes name;    /* the value of the envelope's "event" key (unescaped) */
  sy_bytes payload; /* the JSON text of the envelope's "payload" object, a slice of message */
  uint32_t attempt; /* 1 for the first delivery to this handler, 2 for the first retry, ... */
} sy_event;

/* What a plugin answers for one event. */
typedef enum sy_outcome_kind {
  SY_OUTCOME_OK = 0,    /* handled; never run again for this message */
  SY_OUTCOME_RETRY = 1, /* transient failure: retried with backoff, then dead-lettered */
  SY_OUTCOME_REJECT = 2 /* permanent failure: dead-lettered at once with the reason */
} sy_outcome_kind;

/* One outcome slot, owned by the host. The plugin sets kind and, for RETRY and REJECT, writes
 * a NUL-terminated reason into reason (truncated to SWITCHYARD_REASON_MAX - 1 bytes). Fixed for
 * all of ABI 1 (no version or size: passed as an array). */
typedef struct sy_outcome {
  int32_t kind;
  char reason[SWITCHYARD_REASON_MAX];
} sy_outcome;

/* Log levels understood by sy_host_api.log. */
typedef enum sy_log_level {
  SY_LOG_DEBUG = 0,
  SY_LOG_INFO = 1,
  SY_LOG_WARN = 2,
  SY_LOG_ERROR = 3
} sy_log_level;

/* Services the host offers one plugin instance: one sy_host_api per instance, owned by the
 * host, valid from create() until destroy() of that instance returns; the plugin may keep the
 * pointer that long, and never writes through it. Grows at its end in 1.x: read every field
 * past struct_size through SY_HOST_HAS. */
typedef struct sy_host_api {
  uint32_t abi_version; /* SWITCHYARD_ABI_VERSION of the host */
  uint32_t struct_size; /* sizeof(sy_host_api) of the host: fields past it are absent */
  void* context;        /* pass back as the first argument of the functions below */
  /* Writes one log line attributed to this handler instance. message is NUL-terminated.
   * Thread-safe: callable from any thread while the instance exists, including from create()
   * and destroy(). */
  void (*log)(void* context, int32_t level, const char* message);
  /* The directory of the routes.yaml that configured this instance (NUL-terminated), so a
   * plugin can resolve relative paths in its config the way the user reads them. */
  const char* config_dir;
  /* The handler's name in routes.yaml (NUL-terminated). */
  const char* handler_name;
  /* Non-zero when the instance is created only to validate its config (`switchyard check`):
   * validate everything, but open no files, databases or connections. handle_batch is never
   * called on such an instance; flush (when given), probe (when given, for `switchyard check
   * --connect`: the one call that may connect) and destroy are. */
  int32_t check_only;
  /* ABI 1.x adds fields here, and only here. */
} sy_host_api;

/* The descriptor a plugin's entry point returns. Static storage in the plugin; the host never
 * writes to it or frees it, and reads it while the library is loaded.
 *
 * Threads and lifecycle, as the host drives them:
 *   - The host loads a library once per path and keeps it loaded while any instance created
 *     from it exists. After the last instance's destroy() returns, the library may be unloaded
 *     at once (dlclose), even by a reload; if a later reload names the plugin again, it is
 *     loaded afresh, so static state starts over. Before its last destroy() returns, a plugin
 *     therefore stops every thread it started and leaves no callback (atexit, thread_local
 *     objects with destructors) that would run its code afterwards.
 *   - A reload keeps an instance whose handler name, plugin and config are unchanged: it sees
 *     no call. For a changed handler a new instance is created while the old one may still be
 *     handling a batch on another thread; the old one is flushed and destroyed when the last
 *     batch using it ends. So two instances of one handler can exist, and run, at once: they
 *     share nothing mutable except under the plugin's own lock. A reload that fails destroys the
 *     instances it already created and keeps the old ones.
 *   - Between calls an instance may keep anything it owns (connections, open files, prepared
 *     statements, buffers) and the host api pointer; never the event views or outcome slots of
 *     a call that returned. */
typedef struct sy_plugin_descriptor {
  uint32_t abi_version; /* must be SWITCHYARD_ABI_VERSION; checked first */
  uint32_t struct_size; /* sizeof(sy_plugin_descriptor) as the plugin saw it; checked second:
                           at least SY_PLUGIN_DESCRIPTOR_MIN_SIZE, fields past it absent */
  const char* name;     /* the plugin's name, as in routes.yaml's `plugin:` (NUL-terminated) */
  const char* version;  /* the plugin's own version string */
  /* The keys this plugin accepts in its `config:` map, NULL-terminated; NULL means "any". The
   * host rejects other keys at configuration time with file:line:col. */
  const char* const* config_keys;

  /* Creates one handler instance from its config, given as a JSON object text (NUL-terminated).
   * On success stores the instance in *instance and returns 0. On failure returns non-zero and
   * writes a NUL-terminated message into error (at most error_size bytes, host-owned); destroy
   * is then not called. host stays valid until destroy(instance) returns.
   * Thread: the host's control thread (at start, on reload, under `switchyard check`); never
   * two create() calls at once, but other instances of this plugin may be handling batches on
   * worker threads meanwhile. Required. */
  int32_t (*create)(const char* config_json, const sy_host_api* host, void** instance, char* error,
                    size_t error_size);

  /* Handles count (at least 1) events, writing one outcome per event into outcomes[i]
   * (host-owned, count slots, kind preset to SY_OUTCOME_OK, reason empty).
   * Thread: a worker thread, or one of its lane threads: when a batch goes to several handlers,
   * their calls run at the same time, each on its own thread (routes.yaml handlers_at_once).
   * The host never calls one instance from two threads at once (no handle_batch or flush
   * overlaps another call on it), but successive calls may come from different threads;
   * different instances, of this plugin too, are called concurrently.
   * Required. */
  void (*handle_batch)(void* instance, const sy_event* events, size_t count, sy_outcome* outcomes);

  /* Makes everything handled so far durable. Returns 0, or non-zero with a message in error;
   * the batch's OK outcomes are then retried. Called after every handle_batch (same thread,
   * serialised with it as above) and once more right before destroy(), also on a check-only
   * instance. Optional: NULL means nothing to flush. */
  int32_t (*flush)(void* instance, char* error, size_t error_size);

  /* Destroys an instance created by create(), after its final flush. Called exactly once per
   * successful create(), when the host drops the instance: at shutdown, after a failed reload
   * or `switchyard check` (control thread), or when the last batch using a replaced instance
   * ends (that worker thread). Never overlaps another call on the same instance. Required. */
  void (*destroy)(void* instance);

  /* ---- ABI 1.1 ---- */

  /* Verifies the external resources the instance's config names, for `switchyard check
   * --connect`: connects with the configured credentials and checks what the handler will use
   * (a table and its columns, a directory, an endpoint). Called only on a check-only instance
   * (host->check_only non-zero), which may open connections here and only here, and must close
   * them before returning. Returns SY_PROBE_OK when everything checked is usable,
   * SY_PROBE_PROBLEMS after writing a NUL-terminated report into report (host-owned,
   * report_size bytes, truncated to fit): one problem per line, each naming the resource
   * (table, column, file) and saying what to do, or SY_PROBE_UNSUPPORTED when this instance has
   * nothing to verify. Must return within its own timeouts (seconds, not minutes).
   * Thread: the host's control thread, never overlapping another call on the instance.
   * Optional: absent or NULL means the plugin has no connection check. */
  int32_t (*probe)(void* instance, char* report, size_t report_size);

  /* ABI 1.x adds fields here, and only here. */
} sy_plugin_descriptor;

/* What sy_plugin_descriptor.probe returns. */
typedef enum sy_probe_result {
  SY_PROBE_OK = 0,         /* everything checked is usable */
  SY_PROBE_PROBLEMS = 1,   /* the report lists what is wrong, one problem per line */
  SY_PROBE_UNSUPPORTED = 2 /* nothing to verify: reported as "no connection check" */
} sy_probe_result;

/* The end offset of field in struct type: a struct_size of at least this much includes it. */
#define SY_FIELD_END(type, field) (offsetof(type, field) + sizeof(((type*)0)->field))

/* The minimum struct_size of ABI 1: everything up to the last field of ABI 1.0. */
#define SY_PLUGIN_DESCRIPTOR_MIN_SIZE SY_FIELD_END(sy_plugin_descriptor, destroy)
#define SY_HOST_API_MIN_SIZE SY_FIELD_END(sy_host_api, check_only)

/* Whether the sy_host_api at api (may be NULL) has field: within the struct_size the host
 * declared, and non-NULL / non-zero. Like Redis's RMAPI_FUNC_SUPPORTED; a plugin reads every
 * host api field past the first two through it, e.g. if (SY_HOST_HAS(api, log)) api->log(...). */
#define SY_HOST_HAS(api, field) \
  ((api) != NULL && SY_FIELD_END(sy_host_api, field) <= (size_t)(api)->struct_size && (api)->field)

/* Whether the descriptor d (may be NULL) has field: within the struct_size the plugin
 * declared, and non-NULL / non-zero. The host reads optional descriptor fields through it. */
#define SY_PLUGIN_HAS(d, field)                                                            \
  ((d) != NULL && SY_FIELD_END(sy_plugin_descriptor, field) <= (size_t)(d)->struct_size && \
   (d)->field)

/* The type of the exported entry point. */
typedef const sy_plugin_descriptor* (*sy_plugin_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SWITCHYARD_PLUGIN_H_ */
