/* plugin.h: the versioned C ABI between the Switchyard runtime and a handler plugin (.so).
 *
 * This header is the only contract between the host and a plugin. It uses plain C types so
 * that a plugin built by another compiler (or in C) works. Rules, for both sides:
 *   - Memory allocated on one side is never freed on the other.
 *   - No exception ever crosses this boundary, in either direction.
 *   - Every struct starts with its ABI version and its size, checked before anything else.
 *
 * A plugin exports exactly one symbol, SWITCHYARD_PLUGIN_ENTRY (its name carries the ABI
 * major version), returning a pointer to a static descriptor. C++ authors do not write this by
 * hand: see handler.hpp, which turns a class into a descriptor with one macro.
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
 * for the duration of the handle_batch call; copy what you keep. */
typedef struct sy_event {
  sy_bytes message; /* the envelope, byte for byte as the producer sent it */
  sy_bytes name;    /* the value of the envelope's "event" key (unescaped) */
  sy_bytes payload; /* the JSON text of the envelope's "payload" object, a slice of message */
  uint32_t attempt; /* 1 for the first delivery to this handler, 2 for the first retry, ... */
} sy_event;

/* What a plugin answers for one event. */
typedef enum sy_outcome_kind {
  SY_OUTCOME_OK = 0,     /* handled; never run again for this message */
  SY_OUTCOME_RETRY = 1,  /* transient failure: retried with backoff, then dead-lettered */
  SY_OUTCOME_REJECT = 2  /* permanent failure: dead-lettered at once with the reason */
} sy_outcome_kind;

/* One outcome slot, owned by the host. The plugin sets kind and, for RETRY and REJECT, writes
 * a NUL-terminated reason into reason (truncated to SWITCHYARD_REASON_MAX - 1 bytes). */
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

/* Services the host offers a plugin instance. Owned by the host; valid until destroy() of the
 * instance it was passed to returns. log() is thread-safe. */
typedef struct sy_host_api {
  uint32_t abi_version; /* SWITCHYARD_ABI_VERSION of the host */
  uint32_t struct_size; /* sizeof(sy_host_api) of the host */
  void* context;        /* pass back as the first argument of the functions below */
  /* Writes one log line attributed to this handler instance. message is NUL-terminated. */
  void (*log)(void* context, int32_t level, const char* message);
  /* The directory of the routes.yaml that configured this instance (NUL-terminated), so a
   * plugin can resolve relative paths in its config the way the user reads them. */
  const char* config_dir;
  /* The handler's name in routes.yaml (NUL-terminated). */
  const char* handler_name;
  /* Non-zero when the instance is created only to validate its config (`switchyard check`):
   * validate everything, but open no files, databases or connections. handle_batch is never
   * called on such an instance; destroy is. */
  int32_t check_only;
} sy_host_api;

/* The descriptor a plugin's entry point returns. Static storage in the plugin; the host never
 * writes to it or frees it. */
typedef struct sy_plugin_descriptor {
  uint32_t abi_version; /* must be SWITCHYARD_ABI_VERSION; checked first */
  uint32_t struct_size; /* sizeof(sy_plugin_descriptor) as the plugin saw it; checked second */
  const char* name;     /* the plugin's name, as in routes.yaml's `plugin:` (NUL-terminated) */
  const char* version;  /* the plugin's own version string */
  /* The keys this plugin accepts in its `config:` map, NULL-terminated; NULL means "any". The
   * host rejects other keys at configuration time with file:line:col. */
  const char* const* config_keys;

  /* Creates one handler instance from its config, given as a JSON object text (NUL-terminated).
   * On success stores the instance in *instance and returns 0. On failure returns non-zero and
   * writes a NUL-terminated message into error (at most error_size bytes, host-owned).
   * host stays valid until destroy(instance) returns. */
  int32_t (*create)(const char* config_json, const sy_host_api* host, void** instance,
                    char* error, size_t error_size);

  /* Handles count events, writing one outcome per event into outcomes[i] (host-owned, count
   * slots, kind preset to SY_OUTCOME_OK). The host never calls one instance from two threads
   * at once; different instances may be called concurrently. */
  void (*handle_batch)(void* instance, const sy_event* events, size_t count,
                       sy_outcome* outcomes);

  /* Makes everything handled so far durable. Returns 0, or non-zero with a message in error.
   * Called before the host acknowledges messages and before destroy(). May be NULL. */
  int32_t (*flush)(void* instance, char* error, size_t error_size);

  /* Destroys an instance created by create(). Never called twice for one instance. */
  void (*destroy)(void* instance);
} sy_plugin_descriptor;

/* The type of the exported entry point. */
typedef const sy_plugin_descriptor* (*sy_plugin_entry_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* SWITCHYARD_PLUGIN_H_ */
