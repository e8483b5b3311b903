// ParseItunesDuration and ParseFeedDate (declared in rss.h): the two free-text time fields of a
// feed, written by hand in countless feeds, so both are lenient about form and strict about values.
#include <array>
#include <cstdint>

#include "feeds/rss.h"
#include "feeds/xml.h"

namespace podfleet {
namespace {

// Larger values are junk, and rejecting them keeps the arithmetic far from overflow.
constexpr int64_t kMaxDurationSeconds = int64_t{100} * 365 * 24 * 3600;

// A forward-only reader over a date or duration string.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}

  bool AtEnd() const { return pos_ == s_.size(); }
  char Peek() const { return AtEnd() ? '\0' : s_[pos_]; }

  bool Consume(char c) {
    if (AtEnd() || Peek() != c) return false;
    ++pos_;
    return true;
  }

  void SkipUntil(char c) {
    while (!AtEnd() && Peek() != c) ++pos_;
  }

  // Returns whether any whitespace was skipped.
  bool SkipSpace() {
    const size_t start = pos_;
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t')) ++pos_;
    return pos_ != start;
  }

  // Between min_digits and max_digits decimal digits; *count receives how many were read.
  std::optional<int64_t> Digits(int min_digits, int max_digits, int* count = nullptr) {
    int64_t value = 0;
    int n = 0;
    while (n < max_digits && !AtEnd() && Peek() >= '0' && Peek() <= '9') {
      value = value * 10 + (Peek() - '0');
      ++pos_;
      ++n;
    }
    if (count) *count = n;
    if (n < min_digits) return std::nullopt;
    return value;
  }

  // Milliseconds from the digits after a decimal point: the first three count, the rest are
  // read and dropped.
  std::optional<int64_t> Fraction() {
    int count = 0;
    std::optional<int64_t> ms = Digits(1, 3, &count);
    if (!ms) return std::nullopt;
    for (; count < 3; ++count) *ms *= 10;
    while (Peek() >= '0' && Peek() <= '9') ++pos_;
    return ms;
  }

  std::string_view Letters() {
    const size_t start = pos_;
    while (!AtEnd() && ((Peek() >= 'a' && Peek() <= 'z') || (Peek() >= 'A' && Peek() <= 'Z')))
      ++pos_;
    return s_.substr(start, pos_ - start);
  }

 private:
  std::string_view s_;
  size_t pos_ = 0;
};

// Whether `word` names an entry of `names` in full or abbreviated to three or more letters.
template <size_t N>
std::optional<int> LookupName(const std::array<std::string_view, N>& names, std::string_view word) {
  if (word.size() < 3) return std::nullopt;
  for (size_t i = 0; i < N; ++i) {
    if (word.size() <= names[i].size() && EqualsIgnoreCase(word, names[i].substr(0, word.size()))) {
      return static_cast<int>(i);
    }
  }
  return std::nullopt;
}

constexpr std::array<std::string_view, 12> kMonths = {
    "january", "february", "march",     "april",   "may",      "june",
    "july",    "august",   "september", "october", "november", "december"};
constexpr std::array<std::string_view, 7> kWeekdays = {
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"};

struct NamedZone {
  std::string_view name;
  int minutes;
};
// Zone abbreviations seen in feeds. Ambiguous ones take their most common podcast meaning
// (IST: India; BST: British Summer Time; CST: US Central).
constexpr auto kZones = std::to_array<NamedZone>({
    {"GMT", 0},       {"UT", 0},        {"UTC", 0},        {"Z", 0},          {"EST", -5 * 60},
    {"EDT", -4 * 60}, {"CST", -6 * 60}, {"CDT", -5 * 60},  {"MST", -7 * 60},  {"MDT", -6 * 60},
    {"PST", -8 * 60}, {"PDT", -7 * 60}, {"AKST", -9 * 60}, {"AKDT", -8 * 60}, {"HST", -10 * 60},
    {"AST", -4 * 60}, {"ADT", -3 * 60}, {"NST", -210},     {"NDT", -150},     {"WET", 0},
    {"WEST", 60},     {"BST", 60},      {"IST", 330},      {"CET", 60},       {"CEST", 120},
    {"MET", 60},      {"MEST", 120},    {"EET", 120},      {"EEST", 180},     {"MSK", 180},
    {"SAST", 120},    {"PKT", 300},     {"HKT", 480},      {"SGT", 480},      {"AWST", 480},
    {"JST", 540},     {"KST", 540},     {"ACST", 570},     {"ACDT", 630},     {"AEST", 600},
    {"AEDT", 660},    {"NZST", 720},    {"NZDT", 780},
});

struct CivilTime {
  int64_t year = 0, month = 0, day = 0;
  int64_t hour = 0, minute = 0, second = 0, millis = 0;
  int64_t zone_minutes = 0;  // offset east of UTC
};

std::optional<TimePoint> ToTimePoint(const CivilTime& t) {
  using namespace std::chrono;
  if (t.year < 1 || t.year > 9999 || t.month < 1 || t.month > 12 || t.day < 1 || t.day > 31) {
    return std::nullopt;
  }
  const year_month_day date{year(static_cast<int>(t.year)), month(static_cast<unsigned>(t.month)),
                            day(static_cast<unsigned>(t.day))};
  // A second of 60 is a leap second; it is folded into the next minute.
  if (!date.ok() || t.hour > 23 || t.minute > 59 || t.second > 60) return std::nullopt;
  return TimePoint(sys_days(date).time_since_epoch()) + hours(t.hour) + minutes(t.minute) +
         seconds(t.second) + Millis(t.millis) - minutes(t.zone_minutes);
}

// "+0200", "-05:00", "+02", "+5", "+530"; the sign has been read. At most 14 hours.
std::optional<int64_t> ParseNumericZone(Cursor& in, int sign) {
  int count = 0;
  std::optional<int64_t> digits = in.Digits(1, 4, &count);
  if (!digits) return std::nullopt;
  int64_t hours = *digits;
  std::optional<int64_t> minutes = int64_t{0};
  if (count > 2) {  // HMM or HHMM
    hours = *digits / 100;
    minutes = *digits % 100;
  } else if (in.Consume(':')) {
    minutes = in.Digits(2, 2);
  }
  if (!minutes || hours > 14 || *minutes > 59) return std::nullopt;
  return sign * (hours * 60 + *minutes);
}

std::optional<int64_t> ParseSignedZone(Cursor& in) {
  if (in.Consume('+')) return ParseNumericZone(in, 1);
  if (in.Consume('-')) return ParseNumericZone(in, -1);
  return std::nullopt;
}

// A zone at the end of the string, or none (read as UTC): a numeric offset, a name, or a name
// followed by an offset ("GMT-0400"). Returns the offset in minutes east of UTC.
std::optional<int64_t> ParseZone(Cursor& in) {
  in.SkipSpace();
  if (in.AtEnd()) return 0;
  if (in.Peek() == '+' || in.Peek() == '-') return ParseSignedZone(in);
  const std::string_view name = in.Letters();
  for (const NamedZone& zone : kZones) {
    if (!EqualsIgnoreCase(name, zone.name)) continue;
    if (zone.minutes == 0 && (in.Peek() == '+' || in.Peek() == '-')) return ParseSignedZone(in);
    return zone.minutes;
  }
  return std::nullopt;
}

// An optional "AM"/"PM" after the clock: 12 AM is 0 h, 1-11 PM add 12. False for an hour that
// cannot carry it (0 or over 12).
bool ApplyMeridiem(Cursor& in, CivilTime& t) {
  in.SkipSpace();
  const char c = in.Peek();
  if (c != 'A' && c != 'a' && c != 'P' && c != 'p') return true;
  Cursor probe = in;
  const std::string_view word = probe.Letters();
  const bool am = EqualsIgnoreCase(word, "am");
  if (!am && !EqualsIgnoreCase(word, "pm")) return true;  // a zone name such as "AST"
  in = probe;
  if (t.hour < 1 || t.hour > 12) return false;
  t.hour = (t.hour % 12) + (am ? 0 : 12);
  return true;
}

// "HH:MM[:SS[.fff]]"
bool ParseClock(Cursor& in, CivilTime& t) {
  std::optional<int64_t> hour = in.Digits(1, 2);
  if (!hour || !in.Consume(':')) return false;
  std::optional<int64_t> minute = in.Digits(2, 2);
  if (!minute) return false;
  t.hour = *hour;
  t.minute = *minute;
  if (!in.Consume(':')) return true;
  std::optional<int64_t> second = in.Digits(2, 2);
  if (!second) return false;
  t.second = *second;
  if (in.Consume('.') || in.Consume(',')) {
    std::optional<int64_t> millis = in.Fraction();
    if (!millis) return false;
    t.millis = *millis;
  }
  return true;
}

// Everything after the zone must be blank or a parenthesised comment: "+0000 (UTC)".
bool AtEndOrComment(Cursor& in) {
  in.SkipSpace();
  if (in.AtEnd()) return true;
  if (!in.Consume('(')) return false;
  in.SkipUntil(')');
  if (!in.Consume(')')) return false;
  in.SkipSpace();
  return in.AtEnd();
}

// A separator between date fields: spaces or one '-', true when there was one.
bool DateSeparator(Cursor& in) {
  if (in.Consume('-')) return true;
  return in.SkipSpace();
}

// "[Wed,] 02 Oct 2002 13:00[:00] GMT", two- or four-digit year, zone optional (UTC); also the
// common variants "Wed. 2 Oct, 2002 1:00 PM EDT" and "02-Oct-2002 13:00:00 GMT-0400".
std::optional<TimePoint> ParseRfc822(std::string_view text) {
  Cursor in(text);
  in.SkipSpace();
  if (const std::string_view weekday = in.Letters(); !weekday.empty()) {
    if (!LookupName(kWeekdays, weekday)) return std::nullopt;
    in.Consume('.');
    in.Consume(',');
    in.SkipSpace();
  }
  CivilTime t;
  std::optional<int64_t> day = in.Digits(1, 2);
  if (!day || !DateSeparator(in)) return std::nullopt;
  std::optional<int> month = LookupName(kMonths, in.Letters());
  if (!month) return std::nullopt;
  in.Consume('.');  // "Sept."
  in.Consume(',');  // "Oct, 2002"
  if (!DateSeparator(in)) return std::nullopt;
  int year_digits = 0;
  std::optional<int64_t> year = in.Digits(2, 4, &year_digits);
  if (!year || !in.SkipSpace() || !ParseClock(in, t) || !ApplyMeridiem(in, t)) return std::nullopt;
  // RFC 2822 section 4.3: two-digit years below 50 are 20xx, the rest (and three-digit) 19xx.
  if (year_digits == 2) *year += *year < 50 ? 2000 : 1900;
  if (year_digits == 3) *year += 1900;
  std::optional<int64_t> zone = ParseZone(in);
  if (!zone || !AtEndOrComment(in)) return std::nullopt;
  t.year = *year;
  t.month = *month + 1;
  t.day = *day;
  t.zone_minutes = *zone;
  return ToTimePoint(t);
}

// "2002-10-02", "2002-10-02T13:00[:00[.fff]][Z|+HH[:MM]]", a space allowed for the 'T'.
std::optional<TimePoint> ParseIso8601(std::string_view text) {
  Cursor in(text);
  in.SkipSpace();
  CivilTime t;
  std::optional<int64_t> year = in.Digits(4, 4);
  if (!year || !in.Consume('-')) return std::nullopt;
  std::optional<int64_t> month = in.Digits(2, 2);
  if (!month || !in.Consume('-')) return std::nullopt;
  std::optional<int64_t> day = in.Digits(2, 2);
  if (!day) return std::nullopt;
  t.year = *year;
  t.month = *month;
  t.day = *day;
  in.SkipSpace();
  if (in.AtEnd()) return ToTimePoint(t);
  if (!in.Consume('T')) in.Consume('t');
  if (!ParseClock(in, t)) return std::nullopt;
  std::optional<int64_t> zone = ParseZone(in);
  if (!zone || !AtEndOrComment(in)) return std::nullopt;
  t.zone_minutes = *zone;
  return ToTimePoint(t);
}

}  // namespace

std::optional<Millis> ParseItunesDuration(std::string_view text) {
  Cursor in(TrimSpace(text));
  int64_t seconds = 0;
  int64_t millis = 0;
  for (int field = 0; field < 3; ++field) {
    // Ten digits at most keeps the sum far from overflow; the total is checked below.
    std::optional<int64_t> value = in.Digits(1, 10);
    if (!value) return std::nullopt;
    // Only the leading field may exceed 59: "75:00" for 75 minutes is common, "1:75:00" is junk.
    if (field > 0 && *value > 59) return std::nullopt;
    seconds = seconds * 60 + *value;
    if (seconds > kMaxDurationSeconds) return std::nullopt;
    if (in.Consume(':')) continue;
    if (in.Consume('.')) {
      std::optional<int64_t> fraction = in.Fraction();
      if (!fraction) return std::nullopt;
      millis = *fraction;
    }
    if (!in.AtEnd()) return std::nullopt;
    return Millis(seconds * 1000 + millis);
  }
  return std::nullopt;  // a fourth field
}

std::optional<TimePoint> ParseFeedDate(std::string_view text) {
  if (std::optional<TimePoint> t = ParseRfc822(text)) return t;
  return ParseIso8601(text);
}

}  // namespace podfleet
