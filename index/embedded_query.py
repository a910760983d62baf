"""tantivy queries for the shared query language and filters (docs/search.md), as index/esquery.py
builds them for Elasticsearch: each term is a phrase of its tokens over title (boost 10) or body, or a
one-CJK-character term on ``chars``; filters match without scoring."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence

import tantivy
from tantivy import Occur, Query

from index.analysis import ParsedQuery, Term
from index.backend import SearchQuery
from index.embedded_schema import F, micros

TITLE_BOOST = 10.0
MAX_EXPANSIONS = 1_000  # completions of a suggestion's last word (Elasticsearch's max_expansions too)
CharWeight = Callable[[str], float]


def _tokens_on(schema: tantivy.Schema, field: str, tokens: Sequence[str]) -> Query:
    if len(tokens) == 1:  # tantivy refuses a one-word phrase
        return Query.term_query(schema, field, tokens[0])
    return Query.phrase_query(schema, field, list(tokens))


def tokens_query(schema: tantivy.Schema, tokens: Sequence[str]) -> Query:
    """The tokens in order in the title (weighing ``TITLE_BOOST``) or in the body."""
    return Query.boolean_query(
        [
            (Occur.Should, Query.boost_query(_tokens_on(schema, F.title_tokens, tokens), TITLE_BOOST)),
            (Occur.Should, _tokens_on(schema, F.body_tokens, tokens)),
        ]
    )


def char_weight(searcher: tantivy.Searcher) -> CharWeight:
    """BM25's idf of a character on ``chars``: the whole score of a one-character term, the same for
    every document (as Elasticsearch scores a keyword term: no length norm). tantivy would also weigh
    the number of distinct characters, ranking long notices last."""

    def weight(char: str) -> float:
        documents = searcher.num_docs
        having = searcher.doc_freq(F.chars, char)
        return math.log(1 + (documents - having + 0.5) / (having + 0.5))

    return weight


def term_query(schema: tantivy.Schema, term: Term, weight: CharWeight) -> Query:
    """One term of the query language."""
    if term.char is not None:
        return Query.const_score_query(Query.term_query(schema, F.chars, term.char), weight(term.char))
    return tokens_query(schema, term.tokens)


def term_matches(schema: tantivy.Schema, term: Term) -> list[Query]:
    """The documents ``term`` matches, as queries whose union they are, unscored (for exclusions:
    their leaves go into one flat union, see ``combine``)."""
    if term.char is not None:
        return [Query.term_query(schema, F.chars, term.char)]
    return [_tokens_on(schema, F.title_tokens, term.tokens), _tokens_on(schema, F.body_tokens, term.tokens)]


def any_of(queries: list[Query]) -> Query:
    """Documents matching at least one of ``queries`` (scores add up)."""
    if len(queries) == 1:
        return queries[0]
    return Query.boolean_query([(Occur.Should, query) for query in queries])


def words_query(schema: tantivy.Schema, parsed: ParsedQuery, weight: CharWeight) -> Query | None:
    """Every group must match (a group: any of its terms); None when there are no positive terms."""
    if not parsed.must:
        return None
    groups = [any_of([term_query(schema, term, weight) for term in group]) for group in parsed.must]
    if len(groups) == 1:
        return groups[0]
    return Query.boolean_query([(Occur.Must, group) for group in groups])


def _term(schema: tantivy.Schema, field: str, value: object) -> Query:
    return Query.term_query(schema, field, value)


def any_term(schema: tantivy.Schema, field: str, values: Sequence[object]) -> Query:
    """Documents holding any of a few ``values`` in ``field``: a union of term queries, which reads
    only their postings (``Query.term_set_query`` walks the field's terms or column: ~10 times slower
    for a page of ids; it stays the better choice for a few dense values, like states)."""
    if len(values) == 1:
        return _term(schema, field, values[0])
    return Query.boolean_query([(Occur.Should, _term(schema, field, value)) for value in values])


def states_filter(schema: tantivy.Schema, states: tuple[str, ...] | None) -> Query | None:
    """Documents in one of ``states`` (None: every state)."""
    if states is None:
        return None
    if len(states) == 1:
        return _term(schema, F.state, states[0])
    return Query.term_set_query(schema, F.state, list(states))


def filters(schema: tantivy.Schema, query: SearchQuery, states: bool = True) -> list[Query]:
    """The filters of ``query`` (each must match; none adds to the score), the states filter with
    ``states``."""
    found: list[Query] = []
    for field, value in (
        (F.unit_ancestors, query.unit_subtree),
        (F.unit_level, query.unit_level),
        (F.unit_type, query.unit_type),
        (F.region_path, query.region),
        (F.category, query.category),
        (F.source_id, query.source_id),
        (F.has_attachments, query.has_attachments),
    ):
        if value is not None:
            found.append(_term(schema, field, value))
    if query.date_from is not None or query.date_to is not None:
        found.append(
            Query.range_query(
                schema,
                F.sort_us,
                tantivy.FieldType.Integer,
                lower_bound=micros(query.date_from) if query.date_from is not None else None,
                upper_bound=micros(query.date_to) if query.date_to is not None else None,
            )
        )
    states_query = states_filter(schema, query.states) if states else None
    if states_query is not None:
        found.append(states_query)
    return found


def repost_exclusion(schema: tantivy.Schema) -> Query:
    """Documents folded into their public original (left out when collapsing)."""
    return _term(schema, F.is_repost, True)


def combine(scoring: Query | None, required: list[Query], excluded: list[Query]) -> Query:
    """``scoring`` (or every document) restricted by ``required`` filters, minus ``excluded``.

    The excluded queries are one MustNot union: tantivy unites several MustNot clauses anyway, and a
    clause that is itself a union (the left-out states) would be a union inside that union, seeked
    for every match; so is an excluded word's title-or-body pair (``term_matches``). At 1M documents,
    CPU ms, the same documents and hits (exclusions do not score): 社区 16.2 -> 14.6, 党建 9.8 -> 8.7,
    "smart city" 29.2 -> 25.5, 社区 -志愿 20.4 -> 15.7, 安全 -消防 14.4 -> 11.8."""
    clauses: list[tuple[Occur, Query]] = [(Occur.Must, scoring if scoring is not None else Query.all_query())]
    clauses += [(Occur.Must, Query.const_score_query(query, 0.0)) for query in required]
    if excluded:
        clauses.append((Occur.MustNot, any_of(excluded)))
    if len(clauses) == 1:
        return clauses[0][1]
    return Query.boolean_query(clauses)


def other_states(states: tuple[str, ...] | None, present: Mapping[str, int] | None) -> list[str] | None:
    """The state values of the index outside ``states``, when they are held by fewer documents than
    ``states`` (``present``: every state value of the index and its document count); None otherwise.

    Every document holds exactly one state term (the whole value: ``RAW``), so "not one of the others"
    keeps exactly ``states``, and leaving a few out is far cheaper for tantivy than intersecting with
    the many in: a match is then checked against short posting lists instead of the words' matches
    being looked up in ~90 % of the index (at 1M documents, 社区: 35 -> 25 ms, 党建: 21 -> 9 ms)."""
    if states is None or present is None:
        return None
    others = [value for value in present if value not in states]
    kept = sum(count for value, count in present.items() if value in states)
    return others if sum(present[value] for value in others) < kept else None


def search_query(
    schema: tantivy.Schema,
    query: SearchQuery,
    parsed: ParsedQuery,
    weight: CharWeight,
    present_states: Mapping[str, int] | None = None,
) -> Query:
    """Everything ``query`` asks for except the cursor and the order. With ``present_states`` (see
    ``other_states``), words to match and no other filter (a sparse filter leads the intersection
    anyway: there, measured ~5 % slower), the states are kept by leaving the others out."""
    scoring = words_query(schema, parsed, weight)
    excluded = [leaf for term in parsed.must_not for leaf in term_matches(schema, term)]
    if query.collapse_reposts:
        excluded.append(repost_exclusion(schema))
    required = filters(schema, query, states=False)
    others = other_states(query.states, present_states) if scoring is not None and not required else None
    if others is None:
        return combine(scoring, filters(schema, query), excluded)
    excluded += [_term(schema, F.state, value) for value in others]  # flat in the one MustNot union
    return combine(scoring, required, excluded)


def title_prefix_query(
    searcher: tantivy.Searcher, schema: tantivy.Schema, tokens: Sequence[str]
) -> Query | None:
    """Titles holding ``tokens`` as a phrase, the last one as a prefix (None: nothing can match).

    tantivy's phrase-prefix query completes the last token with at most 50 terms: a one-token prefix
    is a regular expression over the term dictionary instead (every completion), a longer one an OR of
    phrases ending in each of the first MAX_EXPANSIONS completions, in term order."""
    *head, last = tokens
    if not head:
        return Query.regex_query(schema, F.title_tokens, re.escape(last) + ".*")
    completions = searcher.terms_with_prefix(F.title_tokens, last, limit=MAX_EXPANSIONS)
    if not completions:
        return None
    return any_of([_tokens_on(schema, F.title_tokens, [*head, term]) for term, _count in completions])
