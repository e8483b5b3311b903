// What a person types into a search box, turned into an SQLite FTS5 query.
//
// The language: words separated by spaces must all occur (AND); "a quoted phrase" must occur as
// written; a word or phrase ending in * matches as a prefix (amia*); OR between two terms accepts
// either. Everything else is text: each term is passed to FTS5 as a quoted string, so no input
// can reach FTS5's own syntax (column filters, NEAR, parentheses) or make the query invalid.
// Matching folds case and diacritics (the index's unicode61 tokenizer, migrations.h).
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"

namespace podfleet {

// The FTS5 MATCH expression for `text`. kInvalidArgument when it holds no term to search for
// (empty, only spaces or quotes, or only OR).
Result<std::string> ToFtsQuery(std::string_view text);

}  // namespace podfleet
