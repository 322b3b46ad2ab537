/* prod_redact.h - removes secrets (and, optionally, all conversation text)
 * from a transcript line before it leaves the machine.
 *
 * A redactor holds the built-in rules plus user rules, each compiled once
 * with PCRE2 (byte mode, JIT when available). prod_redact_line() runs every
 * rule, in order, over the line and replaces each match by
 * "[REDACTED:<rule>]" (no JSON-special characters, and no rule can match a
 * '"' or a '\\', so a JSON line stays valid JSON). In metadata-only mode the
 * line is first parsed with jansson and reduced to its metadata (see
 * docs/producer.md, "Redaction"); a line that is not a JSON object becomes
 * {"type":"observatory-unparsable","bytes":N}. Each rule has a Prometheus
 * counter observatory_producer_redactions_total{rule="<name>"}.
 * Not thread-safe: one redactor per thread. */
#ifndef PROD_REDACT_H
#define PROD_REDACT_H

#include <stddef.h>

struct prod_redact;

/* rules_enabled: run the rules (built-in + user_rules); metadata_only: strip
 * text first. user_rules: NULL/"" or "name=PCRE2;name2=PCRE2" ('\;' inside a
 * pattern is a literal ';', which PCRE2 reads as ';'). Names are
 * [A-Za-z0-9_]{1,64}. Returns NULL with one line in err (naming the rule and
 * PCRE2's message) when a rule is invalid. */
struct prod_redact *prod_redact_create(int rules_enabled, int metadata_only, const char *user_rules,
                                       char *err, size_t errlen);
void prod_redact_destroy(struct prod_redact *r);

/* Redact one line (no newline). out, out_len: the result, either line itself
 * (nothing changed) or a buffer owned by r, valid until the next call.
 * Returns the number of secrets replaced (>= 0), or -1 when out of memory. */
int prod_redact_line(struct prod_redact *r, const char *line, size_t len, const char **out, size_t *out_len);

/* A rule that PCRE2 could not evaluate on a line (match, depth, heap or JIT
 * stack limit) fails closed: the line is published as its metadata only
 * (as in metadata-only mode, the rules then run on that), or, when that is
 * not possible either, as {"type":"observatory-unredactable","rule":...,
 * "bytes":N}. Counted in observatory_producer_redaction_errors_total{rule}
 * and logged (rate-limited). prod_redact_last_error() names the rule for
 * the last line, NULL when every rule was evaluated. */
const char *prod_redact_last_error(const struct prod_redact *r);

/* Rules, in the order they run (built-ins first). */
size_t prod_redact_nrules(const struct prod_redact *r);
const char *prod_redact_rule_name(const struct prod_redact *r, size_t i);
/* Replacements made by the named rule in the last prod_redact_line call
 * (-1: no such rule). */
int prod_redact_last_count(const struct prod_redact *r, const char *rule);

#endif
