// Lossless text (common/lossless.h): the one escape and unescape every
// writer uses, checked against vectors.txt -- the same file the Python
// reader (python/pwalk/_text.py) is checked against, so the two cannot
// drift apart -- and the CSV row formatter checked to write the same text.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "common/csvrow.h"
#include "common/lossless.h"

namespace {

struct Vector {
    int line;
    std::string name, bare, csv, json, why;
};

struct Malformed {
    int line;
    lossless_quote quote;
    std::string text, why;
};

std::vector<std::string> Split(const std::string &s) {
    std::vector<std::string> out;
    std::string::size_type start = 0, tab;
    while ((tab = s.find('\t', start)) != std::string::npos) {
        out.push_back(s.substr(start, tab - start));
        start = tab + 1;
    }
    out.push_back(s.substr(start));
    return out;
}

std::string FromHex(const std::string &hex) {
    std::string out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
        out += (char)std::stoi(hex.substr(i, 2), nullptr, 16);
    return out;
}

// vectors.txt from the runfiles (the test's working directory).
void Load(std::vector<Vector> *good, std::vector<Malformed> *bad) {
    std::ifstream f("tests/lossless/vectors.txt", std::ios::binary);
    ASSERT_TRUE(f) << "tests/lossless/vectors.txt not in the runfiles";
    std::string line;
    for (int n = 1; std::getline(f, line); n++) {
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string> c = Split(line);
        if (c[0] == "!") {
            ASSERT_EQ(c.size(), 4u) << "vectors.txt:" << n;
            ASSERT_TRUE(c[1] == "bare" || c[1] == "csv") << "vectors.txt:" << n;
            bad->push_back({n, c[1] == "csv" ? LOSSLESS_CSV : LOSSLESS_BARE, c[2], c[3]});
        } else {
            ASSERT_EQ(c.size(), 5u) << "vectors.txt:" << n;
            good->push_back({n, FromHex(c[0]), c[1], c[2], c[3], c[4]});
        }
    }
}

std::string Escape(const std::string &in, lossless_quote q) {
    std::string out(LOSSLESS_ESCAPED_MAX(in.size()) + 1, '\0');
    out.resize(lossless_escape(&out[0], in.data(), in.size(), q));
    return out;
}

// Returns false for malformed text.
bool Unescape(const std::string &in, lossless_quote q, std::string *out) {
    out->assign(in.size() + 1, '\0');
    long n = lossless_unescape(in.data(), in.size(), &(*out)[0], q);
    if (n < 0) return false;
    out->resize((size_t)n);
    return true;
}

// What a JSON reader makes of the JSON column: the vectors only use \" and
// \\ (lossless text has no control byte to need more).
std::string JsonDecode(const std::string &s) {
    std::string out;
    for (size_t i = 0; i < s.size(); i++) {
        if (s[i] == '\\' && i + 1 < s.size()) i++;
        out += s[i];
    }
    return out;
}

TEST(Lossless, VectorsCoverEveryRule) {
    std::vector<Vector> good;
    std::vector<Malformed> bad;
    Load(&good, &bad);
    EXPECT_GE(good.size(), 40u);
    EXPECT_GE(bad.size(), 6u);
}

TEST(Lossless, EscapeGivesEachColumn) {
    std::vector<Vector> good;
    std::vector<Malformed> bad;
    Load(&good, &bad);
    for (const Vector &v : good) {
        SCOPED_TRACE("vectors.txt:" + std::to_string(v.line) + " (" + v.why + ")");
        EXPECT_EQ(Escape(v.name, LOSSLESS_BARE), v.bare);
        EXPECT_EQ(Escape(v.name, LOSSLESS_CSV), v.csv);
        EXPECT_EQ(Escape(v.name, LOSSLESS_JSON), v.json);
        EXPECT_EQ(JsonDecode(v.json), v.bare) << "the JSON column is the text, JSON-quoted";
    }
}

TEST(Lossless, UnescapeGivesTheNameBack) {
    std::vector<Vector> good;
    std::vector<Malformed> bad;
    Load(&good, &bad);
    for (const Vector &v : good) {
        SCOPED_TRACE("vectors.txt:" + std::to_string(v.line) + " (" + v.why + ")");
        std::string back;
        ASSERT_TRUE(Unescape(v.bare, LOSSLESS_BARE, &back));
        EXPECT_EQ(back, v.name);
        ASSERT_TRUE(Unescape(v.csv, LOSSLESS_CSV, &back));
        EXPECT_EQ(back, v.name);
        ASSERT_TRUE(Unescape(JsonDecode(v.json), LOSSLESS_BARE, &back));
        EXPECT_EQ(back, v.name);
    }
}

TEST(Lossless, UnescapeRefusesMalformedText) {
    std::vector<Vector> good;
    std::vector<Malformed> bad;
    Load(&good, &bad);
    for (const Malformed &m : bad) {
        std::string back;
        EXPECT_FALSE(Unescape(m.text, m.quote, &back))
            << "vectors.txt:" << m.line << " (" << m.why << ")";
    }
    // A JSON string is a JSON reader's to decode, not this function's.
    std::string back;
    EXPECT_FALSE(Unescape("a", LOSSLESS_JSON, &back));
}

// The report's rows use the same text: csvrow_escape() in mode lossless is
// the CSV column, byte for byte.
TEST(Lossless, CsvRowWritesTheSameText) {
    std::vector<Vector> good;
    std::vector<Malformed> bad;
    Load(&good, &bad);
    for (const Vector &v : good) {
        std::string out(4 * v.name.size() + 1, '\0');
        int dropped = 0;
        out.resize(csvrow_escape(&out[0], v.name.data(), v.name.size(), CSVROW_ESCAPE_LOSSLESS,
                                 &dropped));
        EXPECT_EQ(out, v.csv) << "vectors.txt:" << v.line;
        EXPECT_FALSE(dropped);
    }
}

// The documented bound holds for the worst names, and random names round
// trip in every quoting and never leave a control byte or a lone quote.
TEST(Lossless, BoundAndRandomRoundTrips) {
    std::string worst_json(100, '\xff'), backslashes(100, '\\');
    EXPECT_EQ(Escape(worst_json, LOSSLESS_JSON).size(), LOSSLESS_ESCAPED_MAX(100));
    EXPECT_EQ(Escape(worst_json, LOSSLESS_CSV).size(), 400u);
    EXPECT_EQ(Escape(backslashes, LOSSLESS_JSON).size(), 400u);
    std::mt19937 rng(7);
    for (int i = 0; i < 3000; i++) {
        std::string in;
        int n = (int)(rng() % 48);
        for (int k = 0; k < n; k++) in += (char)(rng() % 256);
        for (lossless_quote q : {LOSSLESS_BARE, LOSSLESS_CSV}) {
            std::string esc = Escape(in, q), back;
            for (unsigned char c : esc) ASSERT_TRUE(c >= 0x20 && c != 0x7f);
            ASSERT_TRUE(Unescape(esc, q, &back));
            ASSERT_EQ(back, in);
        }
        std::string json = Escape(in, LOSSLESS_JSON), back;
        ASSERT_EQ(JsonDecode(json), Escape(in, LOSSLESS_BARE));
    }
}

// Escaping through a small buffer, lossless_piece() at a time, writes what
// escaping the whole name does -- names full of multi-byte sequences, valid
// and not, cut at every size down to the smallest allowed.
TEST(Lossless, PiecesEscapeLikeTheWhole) {
    const std::string parts[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                 "\x80", "\xff", "\xe2\x82", "\xf0\x9f", "\\", "\""};
    std::mt19937 rng(3);
    for (int i = 0; i < 2000; i++) {
        std::string in;
        int n = (int)(rng() % 30);
        for (int k = 0; k < n; k++) in += parts[rng() % (sizeof parts / sizeof parts[0])];
        for (size_t max = 4; max <= 9; max++) {
            std::string pieces;
            size_t at = 0;
            while (at < in.size()) {
                size_t take = lossless_piece(in.data() + at, in.size() - at, max);
                ASSERT_GT(take, 0u);
                ASSERT_LE(take, max);
                pieces += Escape(in.substr(at, take), LOSSLESS_JSON);
                at += take;
            }
            ASSERT_EQ(pieces, Escape(in, LOSSLESS_JSON)) << "max " << max;
        }
    }
    EXPECT_EQ(lossless_piece("abc", 3, 4), 3u);
    // four continuation bytes: no sequence spans the cut, so cut at max
    EXPECT_EQ(lossless_piece("\x80\x80\x80\x80\x80\x80", 6, 4), 4u);
    // a 4-byte sequence starting at 2 is kept whole: cut before it
    EXPECT_EQ(lossless_piece("ab\xf0\x9f\x98\x80", 6, 4), 2u);
}

}  // namespace
