// reply_arena.h: hiredis reply objects allocated from one arena per top-level reply.
#ifndef SWITCHYARD_REDIS_REPLY_ARENA_H_
#define SWITCHYARD_REDIS_REPLY_ARENA_H_

#include <hiredis/hiredis.h>

namespace switchyard {

// Makes reader build each top-level reply (the reply, its elements at any depth and their
// strings) in one arena: a few malloc'ed blocks instead of two allocations per element. The
// objects are ordinary redisReply structs, read as usual; only their freeing differs: a reply
// from such a reader is freed with free_arena_reply(), never with freeReplyObject(), and its
// sub-elements are never freed on their own. A reply owns its arena: it stays valid after its
// connection is closed, reconnected or freed. Call before the reader reads its first reply.
// Thread safety: keeps no state shared between readers; a reply may be freed on any thread.
void use_reply_arena(redisReader* reader);

// Frees a top-level reply built by a reader that use_reply_arena() set up, with everything it
// holds. nullptr: nothing.
void free_arena_reply(redisReply* reply);

}  // namespace switchyard

#endif  // SWITCHYARD_REDIS_REPLY_ARENA_H_
