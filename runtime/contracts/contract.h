// contract.h: event contracts (routes.yaml `contracts:`): JSON Schemas compiled once, payloads
// checked per message. A contract describes the payload object of one event (exact event name), not
// the envelope: the envelope's shape is the decoder's job and producers may add top-level fields
// freely. Thread safety: a ContractSet is immutable once loaded; check() may run on any number of
// threads at once (each call uses its own validator).
#ifndef SWITCHYARD_CONTRACTS_CONTRACT_H_
#define SWITCHYARD_CONTRACTS_CONTRACT_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "config/config.h"
#include "util/status.h"

namespace switchyard {

struct CompiledContract;  // defined in contract.cc (RapidJSON types stay out of this header)

// Limits on a schema file: contracts are read at startup and on reload, never from a message.
constexpr size_t kMaxSchemaBytes = 1024 * 1024;
constexpr int kMaxSchemaDepth = 128;

class ContractSet {
 public:
  ContractSet() = default;

  // Reads, checks and compiles every schema of config.contracts. A schema must be a JSON Schema
  // draft-04 object (checked against the draft-04 meta-schema), at most kMaxSchemaBytes and
  // kMaxSchemaDepth levels deep, whose "$ref"s are local ("#/...") and resolve without a cycle and
  // whose "pattern"/"patternProperties" compile with RapidJSON's regex engine (which would
  // otherwise ignore them silently). The contract's key must be an exact event name (no glob).
  // Errors start with the contract entry's FILE:LINE:COL and name the schema file, e.g.
  //   routes.yaml:12:18: contract quote.created: schema /etc/switchyard/q.json: cannot read it
  //   (No such file or directory)
  // On failure *out is left unchanged.
  static Status load(const Config& config, ContractSet* out);

  // Loads one schema from JSON text (for tests and the fuzz targets); name is used in errors.
  static Status compile(const std::string& event, const std::string& schema_json,
                        const std::string& name, ContractSet* out);

  bool empty() const { return contracts_.empty(); }
  size_t size() const { return contracts_.size(); }
  bool has(std::string_view event) const { return contracts_.find(event) != contracts_.end(); }

  // Checks payload (the JSON text of the envelope's "payload" object, already well-formed) against
  // the contract of event. Returns true when event has no contract or the payload satisfies it.
  // Otherwise returns false and sets *reason to
  //   contract EVENT: POINTER: WHAT
  // where POINTER is the JSON pointer (URI fragment form, "#" is the payload itself) of the
  // failing field as RapidJSON's validator reports it, for example
  //   contract quote.created: #/qty: expected type integer, found string
  //   contract quote.created: #/quote_id: required property is missing
  //   contract quote.created: #/qty: fails "minimum": 1 (schema #/properties/qty)
  bool check(std::string_view event, std::string_view payload, std::string* reason) const;

 private:
  std::map<std::string, std::shared_ptr<const CompiledContract>, std::less<>> contracts_;
};

}  // namespace switchyard

#endif  // SWITCHYARD_CONTRACTS_CONTRACT_H_
