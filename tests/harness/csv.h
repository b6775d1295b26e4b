// csv.h -- reading pwalk's outputs back: the CSV report, the error file,
// the end-of-scan summary line; and the report's escaping, written from
// plugins/csv/FORMAT.md and sharing no code with the engine, so a bug in
// the engine's writer cannot hide itself by being reused here.
#ifndef PWALK_TESTS_HARNESS_CSV_H
#define PWALK_TESTS_HARNESS_CSV_H

#include <map>
#include <string>
#include <vector>

namespace harness {

// ---- parsing -----------------------------------------------------------------

// A whole text, RFC 4180 (quoted fields, "" escapes, newlines inside
// quotes), leniently: what a CSV reader such as DuckDB makes of it.
std::vector<std::vector<std::string>> ParseCsv(const std::string &text);

// One record per line, strictly (the report's fields never hold a raw
// newline); quoted fields are returned with the quotes removed and ""
// collapsed.  False on a malformed line (an unbalanced quote, junk after
// one, a quote inside an unquoted field).
bool SplitCsvLine(const std::string &line, std::vector<std::string> *fields);

struct Csv {
    bool ok = true;
    std::string problem;  // the first malformed line, with its number
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;
};

// Read a CSV file line by line; every line must have `columns` fields.
Csv ReadCsv(const std::string &path, size_t columns, bool has_header = true);

// ---- lossless escaping ---------------------------------------------------------

// Undo lossless escaping (after quote removal): "\\" -> '\', "\xHH" (two
// lowercase hex digits) -> the byte.  Anything else after a backslash is
// malformed: the result is false, and the backslash is kept as it is.
bool Unescape(const std::string &in, std::string *out);
// The same, returning the text; *ok becomes false on a malformed escape.
std::string Unescape(const std::string &field, bool *ok = nullptr);

// Strict UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past
// U+10FFFF), as DuckDB's reader requires.
bool ValidUtf8(const std::string &s);

// The lossless text of raw bytes: '\' doubled, control bytes, 0x7f and
// bytes outside a valid UTF-8 sequence as \xHH; '"' as it is.
std::string Lossless(const std::string &raw);
// The spec's two escapers as a quoted field's contents ('"' doubled).
// Lossless: Lossless() then '"' doubled.  Dey: '"' doubled, bytes < 0x20
// deleted.
std::string EscapeLossless(const std::string &raw);
std::string EscapeDey(const std::string &raw);

// ---- the report, the error file, the summary -----------------------------------

// Report columns (plugins/csv/FORMAT.md).
enum Col {
    kInode = 0, kParentInode, kDepth, kFilename, kExtension, kUid, kGid, kSize, kDev, kBlocks,
    kNlink, kMode, kAtime, kMtime, kCtime, kFcount, kDirsum, kColumns
};
extern const char *const kColumnNames[kColumns];

// The error file: path,errno,error,operation,kind (kind: error, vanished
// or replaced).
struct ErrorRecord {
    std::string path, error, operation, kind;
    int error_number = 0;
};

// Appends the file's records (path unescaped) to *out; false with
// *problem set when the file is malformed.
bool ReadErrors(const std::string &path, std::vector<ErrorRecord> *out, std::string *problem);

// The end-of-scan summary line on stderr:
//   pwalk: E entries in S s (R/s): N rows, X errors (KINDS)[, V vanished
//   (gone G, replaced R)], F filtered (REASONS); sink 'NAME': N rows; ...
struct Summary {
    bool found = false;
    unsigned long long entries = 0, rows = 0, errors = 0, filtered = 0, vanished = 0;
    std::map<std::string, unsigned long long> sink_rows;
    std::vector<std::string> sink_order;
    std::string line;
};

// The last summary line in err (found false when there is none).
Summary ParseSummary(const std::string &err);

}  // namespace harness

#endif
