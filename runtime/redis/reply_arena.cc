// reply_arena.cc: the hiredis reply-object functions that build each reply in one arena.
#include "redis/reply_arena.h"

#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>

namespace switchyard {
namespace {

// A malloc'ed block; its usable bytes follow the header.
struct Block {
  Block* next;
  size_t capacity;
  size_t used;
};
constexpr size_t kAlign = alignof(std::max_align_t);
constexpr size_t kHeader = (sizeof(Block) + kAlign - 1) / kAlign * kAlign;

// The top-level reply, first in its arena's first block. reply is the first member, so a
// pointer to it is a pointer to the Root.
struct Root {
  redisReply reply;
  Block* first;
  Block* last;  // where allocation goes on
};

// The arena bytes per element the last top-level array of this thread needed: a take's reply is
// much like the previous one, so its first block usually holds it whole.
thread_local size_t last_bytes_per_element = 0;
constexpr size_t kMaxFirstBlock = size_t{4} << 20;

size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

unsigned char* data_of(Block* b) { return reinterpret_cast<unsigned char*>(b) + kHeader; }

Block* new_block(size_t capacity) {
  void* raw = std::malloc(kHeader + capacity);
  if (raw == nullptr) return nullptr;
  Block* b = static_cast<Block*>(raw);
  b->next = nullptr;
  b->capacity = capacity;
  b->used = 0;
  return b;
}

void* allocate(Root* root, size_t size, size_t align) {
  Block* b = root->last;
  size_t at = round_up(b->used, align);
  if (at + size > b->capacity) {
    Block* more = new_block(std::max(size + align, b->capacity * 2));
    if (more == nullptr) return nullptr;
    b->next = more;
    root->last = b = more;
    at = 0;
  }
  b->used = at + size;
  return data_of(b) + at;
}

// A new arena whose first block holds the Root and about `estimate` more bytes.
Root* new_root(int type, size_t estimate) {
  Block* b = new_block(round_up(sizeof(Root), kAlign) + estimate);
  if (b == nullptr) return nullptr;
  b->used = sizeof(Root);
  Root* root = new (data_of(b)) Root{};
  root->reply.type = type;
  root->first = root->last = b;
  return root;
}

Root* root_of(const redisReadTask* task) {
  while (task->parent != nullptr) task = task->parent;
  return static_cast<Root*>(task->obj);
}

// A zeroed reply of type for task, linked into its parent array; bytes more are allocated
// right after it (*extra points there). The top-level reply starts the arena.
redisReply* new_reply(const redisReadTask* task, int type, size_t bytes, void** extra,
                      size_t estimate) {
  redisReply* r = nullptr;
  Root* root = nullptr;
  if (task->parent == nullptr) {
    root = new_root(type, bytes + estimate);
    if (root == nullptr) return nullptr;
    r = &root->reply;
  } else {
    root = root_of(task);
    r = static_cast<redisReply*>(allocate(root, sizeof(redisReply), alignof(redisReply)));
    if (r == nullptr) return nullptr;
    std::memset(r, 0, sizeof(*r));
    r->type = type;
    auto* parent = static_cast<redisReply*>(task->parent->obj);
    parent->element[task->idx] = r;
  }
  if (bytes > 0) {
    *extra = allocate(root, bytes, alignof(redisReply*));
    if (*extra == nullptr) {
      if (task->parent == nullptr) free_arena_reply(r);  // a child goes with its root
      return nullptr;
    }
  }
  return r;
}

void* create_string(const redisReadTask* task, char* str, size_t len) {
  void* buffer = nullptr;
  redisReply* r = new_reply(task, task->type, len + 1, &buffer, 0);
  if (r == nullptr) return nullptr;
  r->str = static_cast<char*>(buffer);
  std::memcpy(r->str, str, len);
  r->str[len] = '\0';
  r->len = len;
  return r;
}

void* create_array(const redisReadTask* task, int elements) {
  const size_t n = elements > 0 ? static_cast<size_t>(elements) : 0;
  size_t estimate = 0;
  if (task->parent == nullptr) {
    // Each element: its reply and a short string, or what the last array's elements took.
    const size_t per_element = std::max(sizeof(redisReply) + 48, last_bytes_per_element);
    estimate = std::min(n * per_element, kMaxFirstBlock);
  }
  void* element = nullptr;
  redisReply* r = new_reply(task, REDIS_REPLY_ARRAY, n * sizeof(redisReply*), &element, estimate);
  if (r == nullptr) return nullptr;
  if (n > 0) {
    std::memset(element, 0, n * sizeof(redisReply*));
    r->element = static_cast<redisReply**>(element);
  }
  r->elements = n;
  return r;
}

void* create_integer(const redisReadTask* task, long long value) {
  redisReply* r = new_reply(task, REDIS_REPLY_INTEGER, 0, nullptr, 0);
  if (r != nullptr) r->integer = value;
  return r;
}

void* create_nil(const redisReadTask* task) {
  return new_reply(task, REDIS_REPLY_NIL, 0, nullptr, 0);
}

// hiredis frees only a top-level object this way: a partial reply after a protocol error, or
// the one in progress when the reader is freed.
void free_object(void* reply) { free_arena_reply(static_cast<redisReply*>(reply)); }

redisReplyObjectFunctions arena_functions = {create_string, create_array, create_integer,
                                             create_nil, free_object};

}  // namespace

void use_reply_arena(redisReader* reader) { reader->fn = &arena_functions; }

void free_arena_reply(redisReply* reply) {
  if (reply == nullptr) return;
  Root* root = reinterpret_cast<Root*>(reply);
  Block* b = root->first;
  if (reply->type == REDIS_REPLY_ARRAY && reply->elements > 0) {
    size_t total = 0;
    for (Block* i = b; i != nullptr; i = i->next) total += i->used;
    last_bytes_per_element = total / reply->elements;
  }
  while (b != nullptr) {
    Block* next = b->next;
    std::free(b);
    b = next;
  }
}

}  // namespace switchyard
