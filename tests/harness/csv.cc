#include "tests/harness/csv.h"

#include <stdio.h>
#include <stdlib.h>

#include <fstream>
#include <regex>
#include <sstream>

namespace harness {

const char *const kColumnNames[kColumns] = {
    "inode",    "parent-inode", "directory-depth", "filename",  "fileExtension", "UID",
    "GID",      "st_size",      "st_dev",          "st_blocks", "st_nlink",      "st_mode",
    "st_atime", "st_mtime",     "st_ctime",        "pw_fcount", "pw_dirsum"};

std::vector<std::vector<std::string>> ParseCsv(const std::string &t)
{
    std::vector<std::vector<std::string>> rows;
    std::vector<std::string> row;
    std::string field;
    bool quoted = false, any = false;
    for (size_t i = 0; i < t.size(); i++) {
        char c = t[i];
        if (quoted) {
            if (c != '"')
                field += c;
            else if (i + 1 < t.size() && t[i + 1] == '"')
                field += '"', i++;
            else
                quoted = false;
        } else if (c == '"') {
            quoted = true;
            any = true;
        } else if (c == ',') {
            row.push_back(field);
            field.clear();
        } else if (c == '\n') {
            row.push_back(field);
            rows.push_back(row);
            row.clear();
            field.clear();
            any = false;
        } else {
            field += c;
            any = true;
        }
    }
    if (any || !field.empty() || !row.empty()) {
        row.push_back(field);
        rows.push_back(row);
    }
    return rows;
}

// One quoted field starting at line[*i] (the opening quote); false when
// it does not close.
static bool QuotedField(const std::string &line, size_t *i, std::string *f)
{
    size_t n = line.size();
    for ((*i)++;; (*i)++) {
        if (*i >= n)
            return false;
        if (line[*i] != '"') {
            *f += line[*i];
        } else if (*i + 1 < n && line[*i + 1] == '"') {
            *f += '"';
            (*i)++;
        } else {
            (*i)++;
            return true;
        }
    }
}

bool SplitCsvLine(const std::string &line, std::vector<std::string> *fields)
{
    fields->clear();
    size_t i = 0, n = line.size();
    for (;;) {
        std::string f;
        if (i < n && line[i] == '"') {
            if (!QuotedField(line, &i, &f) || (i < n && line[i] != ','))
                return false;
        } else {
            while (i < n && line[i] != ',') {
                if (line[i] == '"')
                    return false;
                f += line[i++];
            }
        }
        fields->push_back(f);
        if (i >= n)
            return true;
        i++;  // the comma
    }
}

Csv ReadCsv(const std::string &path, size_t columns, bool has_header)
{
    Csv c;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        c.ok = false;
        c.problem = "cannot open " + path;
        return c;
    }
    std::string line;
    size_t lineno = 0;
    std::vector<std::string> f;
    while (std::getline(in, line)) {
        lineno++;
        if (!SplitCsvLine(line, &f) || f.size() != columns) {
            if (c.ok)
                c.problem = path + ":" + std::to_string(lineno) + ": malformed (" +
                            std::to_string(f.size()) + " fields): " + line.substr(0, 300);
            c.ok = false;
            continue;
        }
        if (has_header && lineno == 1)
            c.header = f;
        else
            c.rows.push_back(f);
    }
    return c;
}

static bool LowerHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

bool Unescape(const std::string &in, std::string *out)
{
    bool ok = true;
    out->clear();
    for (size_t i = 0; i < in.size(); i++) {
        if (in[i] != '\\') {
            *out += in[i];
        } else if (i + 1 < in.size() && in[i + 1] == '\\') {
            *out += '\\';
            i++;
        } else if (i + 3 < in.size() && in[i + 1] == 'x' && LowerHex(in[i + 2]) &&
                   LowerHex(in[i + 3])) {
            *out += (char)strtol(in.substr(i + 2, 2).c_str(), nullptr, 16);
            i += 3;
        } else {
            // the spec has no other escape: a lone backslash means the
            // writer forgot to double it
            ok = false;
            *out += in[i];
        }
    }
    return ok;
}

std::string Unescape(const std::string &field, bool *ok)
{
    std::string out;
    if (!Unescape(field, &out) && ok)
        *ok = false;
    return out;
}

// Length of the valid UTF-8 sequence starting at s[i], or 0.
static size_t Utf8SeqLen(const std::string &s, size_t i)
{
    auto b = [&](size_t k) { return (unsigned char)s[k]; };
    auto cont = [&](size_t k) { return k < s.size() && (b(k) & 0xC0) == 0x80; };
    unsigned char c = b(i);
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        return cont(i + 1) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (!cont(i + 1) || !cont(i + 2))
            return 0;
        if (c == 0xE0 && b(i + 1) < 0xA0)  // overlong
            return 0;
        if (c == 0xED && b(i + 1) >= 0xA0)  // surrogate
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3))
            return 0;
        if (c == 0xF0 && b(i + 1) < 0x90)  // overlong
            return 0;
        if (c == 0xF4 && b(i + 1) >= 0x90)  // > U+10FFFF
            return 0;
        return 4;
    }
    return 0;
}

bool ValidUtf8(const std::string &s)
{
    for (size_t i = 0; i < s.size();) {
        size_t n = Utf8SeqLen(s, i);
        if (!n)
            return false;
        i += n;
    }
    return true;
}

std::string Lossless(const std::string &raw)
{
    std::string o;
    for (size_t i = 0; i < raw.size();) {
        unsigned char c = (unsigned char)raw[i];
        size_t n = Utf8SeqLen(raw, i);
        if (c == '\\') {
            o += "\\\\";
        } else if (c < 0x20 || c == 0x7f || n == 0) {
            char buf[8];
            snprintf(buf, sizeof buf, "\\x%02x", c);
            o += buf;
        } else {
            o.append(raw, i, n);
            i += n;
            continue;
        }
        i++;
    }
    return o;
}

static std::string DoubleQuotes(const std::string &s)
{
    std::string o;
    for (char c : s)
        o += c == '"' ? std::string("\"\"") : std::string(1, c);
    return o;
}

std::string EscapeLossless(const std::string &raw) { return DoubleQuotes(Lossless(raw)); }

std::string EscapeDey(const std::string &raw)
{
    std::string o;
    for (unsigned char c : raw) {
        if (c == '"')
            o += "\"\"";
        else if (c >= 0x20)
            o += (char)c;
    }
    return o;
}

bool ReadErrors(const std::string &path, std::vector<ErrorRecord> *out, std::string *problem)
{
    Csv c = ReadCsv(path, 5);
    if (!c.ok) {
        *problem = c.problem;
        return false;
    }
    if (c.header != std::vector<std::string>{"path", "errno", "error", "operation", "kind"}) {
        *problem = "error file header is not path,errno,error,operation,kind";
        return false;
    }
    for (auto &f : c.rows) {
        ErrorRecord e;
        if (!Unescape(f[0], &e.path)) {
            *problem = "bad escape in error path " + f[0];
            return false;
        }
        e.error_number = atoi(f[1].c_str());
        e.error = f[2];
        e.operation = f[3];
        e.kind = f[4];
        if (e.kind != "error" && e.kind != "vanished" && e.kind != "replaced") {
            *problem = "unknown kind " + e.kind + " in the error file";
            return false;
        }
        out->push_back(e);
    }
    return true;
}

Summary ParseSummary(const std::string &err)
{
    static const std::regex re(
        "^pwalk: ([0-9]+) entries in [0-9.]+ s \\([^)]*/s\\): ([0-9]+) rows, ([0-9]+) errors"
        "(?: \\(([^)]*)\\))?(?:, ([0-9]+) vanished(?: \\([^)]*\\))?)?, ([0-9]+) filtered"
        "(?: \\(([^)]*)\\))?((?:; sink '[^']*': [0-9]+ rows)*)$");
    static const std::regex sink_re("; sink '([^']*)': ([0-9]+) rows");
    Summary s;
    std::istringstream in(err);
    std::string line;
    while (std::getline(in, line)) {
        std::smatch m;
        if (!std::regex_match(line, m, re))
            continue;
        s = Summary();
        s.found = true;
        s.line = line;
        s.entries = std::stoull(m[1]);
        s.rows = std::stoull(m[2]);
        s.errors = std::stoull(m[3]);
        s.vanished = m[5].matched ? std::stoull(m[5]) : 0;
        s.filtered = std::stoull(m[6]);
        std::string sinks = m[8];
        for (std::sregex_iterator it(sinks.begin(), sinks.end(), sink_re), end; it != end;
             ++it) {
            s.sink_rows[(*it)[1]] = std::stoull((*it)[2]);
            s.sink_order.push_back((*it)[1]);
        }
    }
    return s;
}

}  // namespace harness
