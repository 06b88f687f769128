#pragma once
// `_`: lodash-like collection helpers in every script's global scope, for
// patches written against RavenDB's documented helpers (`_.map`, `_.filter`,
// `_.uniq`, `_.sortBy`, `_.groupBy`, `_.remove`, ...). Plain JavaScript over
// the engine's own arrays: what the scripts would write by hand, once. An
// iteratee may be a function, a property name, or an object to match.

namespace corvus::scripting {

// The helpers' source: one function body that defines `globalThis._`.
extern const char* const kArrayHelpersSource;

}  // namespace corvus::scripting
