#pragma once
// Sorted walk: the first page of a sorted query read off an auto-index's sort
// entries (query/index_terms.h) in order, instead of reading and sorting every
// match. The walk stops as soon as the page is full, so `order by X limit 10`
// over a million documents reads about ten entries and ten documents.
//
// It serves a query only where the index order is the sorter's order
// (query/document_sorter.h): the first clause orders by an indexed field as a
// string with no number among that field's first values, or as a long or a
// double with no string among them (mixed types sort differently from the
// index), never alphanumerically. Documents that tie on the first clause
// (one term; for longs, one truncated value) form a group, ordered by the
// other clauses (their documents read) or else by etag, as the full sort does.
// A where clause must be one the index answers exactly (its candidates are
// the matches); when those are few, reading them is cheaper than walking, and
// the walk declines. Free function, any thread; one call per query.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "query/auto_index.h"
#include "query/document_sorter.h"
#include "query/index_lookup.h"
#include "storage/document_snapshot.h"

namespace corvus::query {

// The lowered ids of the first `page` matches in sort order (fewer when there
// are fewer), or nullopt when the walk cannot serve this query (the caller
// sorts instead). `matches`: the exact candidates of the where clause; null:
// every document the index holds matches. Documents of the other clauses are
// read from `snapshot`. Errors: index and storage reads.
Result<std::optional<std::vector<std::string>>> walk_sorted_page(const AutoIndex& index, const DocumentSorter& sorter,
                                                                 const IndexCandidates* matches, uint64_t page,
                                                                 const storage::DocumentSnapshot& snapshot);

}  // namespace corvus::query
