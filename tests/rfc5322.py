#!/usr/bin/env python3
"""A checker of RFC 5322's date-time (section 3.3), for the test suites.

The grammar is the one a program may generate: section 3.3 without the
obsolete forms of section 4.3 (no two-digit years, no zone names such as
GMT, no comments between the fields). Written as a small recursive-descent
parser over the ABNF, one function per rule, so that each rule can be read
next to the RFC:

  date-time   = [ day-of-week "," ] date time [CFWS]
  day-of-week = ([FWS] day-name)
  date        = day month year
  day         = ([FWS] 1*2DIGIT FWS)
  year        = (FWS 4*DIGIT FWS)
  time        = time-of-day zone
  time-of-day = hour ":" minute [ ":" second ]     (2DIGIT each)
  zone        = (FWS ( "+" / "-" ) 4DIGIT)

plus the semantics section 3.3 states in prose: the date must exist (no
31 November, leap years), the day of the week, when given, must be the
one the date implies, the year is 1900 or later, the time of day lies
within 00:00:00 and 23:59:60 (60: a leap second) and the zone's minutes
are below 60.

A folding line break is CRLF on the wire and LF in a Maildir (which
stores LF line ends), so both count as CRLF here; a bare CR does not.

    import rfc5322
    rfc5322.parse("Tue,  1 Dec 2026 20:47:12 +0000 (UTC)")  # -> 1796158032
    rfc5322.parse("Tue, 31 Nov 2026 20:47:12 +0000")        # -> None
    rfc5322.check(text, "Postfix's Received date")         # or AssertionError

Run as a program (`python3 tests/rfc5322.py [VECTORS]`), it checks
itself against every vector in tests/dates/rfc5322.txt (shared with the
Rust checker; its format is described at its top), cross-checks each
valid one with Python's email.utils.parsedate_to_datetime where that can
parse it, and sweeps the calendar from 1900 to 2100 against Python's
datetime. Ends with `rfc5322: N passed, M failed`; exits 1 if any failed.
Standard library only.
"""

import collections
import datetime
import email.utils
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
VECTORS = os.path.join(HERE, "dates", "rfc5322.txt")

# Section 3.3: day-name and month, matched without regard to case (they
# are quoted strings in the ABNF, RFC 5234 section 2.3).
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

DIGITS = "0123456789"  # DIGIT (RFC 5234 B.1): ASCII only, not str.isdigit()
WSP = " \t"            # WSP (RFC 5234 B.1): space and horizontal tab

# A parsed date-time: `unix` in seconds since 1970-01-01 00:00:00 UTC
# (the zone's offset applied; a leap second :60 counts as the next
# second), `zone` as written ("+0000", "-0330"), `offset` in minutes east
# of UTC ("-0000" gives 0: section 3.3 says it means UTC, local zone
# unknown).
DateTime = collections.namedtuple("DateTime", "unix zone offset")


class Invalid(Exception):
    """The text is not a date-time; the message says where and why."""


def parse(text):
    """Unix seconds (UTC) of an RFC 5322 date-time, or None if `text` is
    not one."""
    try:
        return parse_full(text).unix
    except Invalid:
        return None


def why_not(text):
    """None if `text` is a date-time, else the reason it is not."""
    try:
        parse_full(text)
        return None
    except Invalid as e:
        return str(e)


def check(text, what):
    """Returns the DateTime of `text`; raises AssertionError naming `what`
    and the reason if it is not an RFC 5322 date-time."""
    try:
        return parse_full(text)
    except Invalid as e:
        raise AssertionError(f"{what}: {text!r} is not an RFC 5322 section 3.3 date-time: {e}") from None


def parse_full(text):
    """The DateTime of `text`; raises Invalid."""
    return _Parser(text).date_time()


# ------------------------------------------------------------------ parser


class _Parser:
    def __init__(self, text):
        self.s = text
        self.i = 0

    # -- helpers

    def fail(self, expected):
        found = self.s[self.i:self.i + 12]
        found = repr(found) if found else "the end"
        raise Invalid(f"expected {expected} at offset {self.i}, found {found}")

    def peek(self, k=0):
        j = self.i + k
        return self.s[j] if j < len(self.s) else ""

    def line_break(self, j):
        """Length of the line break (CRLF, or LF as a Maildir stores it)
        at offset j, or 0."""
        if self.s.startswith("\r\n", j):
            return 2
        if self.s.startswith("\n", j):
            return 1
        return 0

    def digits(self, least, most, what):
        """least*most DIGIT (RFC 5234 section 3.6); returns the number."""
        j = self.i
        while j < len(self.s) and j - self.i < most and self.s[j] in DIGITS:
            j += 1
        if j - self.i < least:
            self.fail(what)
        n = int(self.s[self.i:j])
        self.i = j
        return n

    def name(self, names, what):
        """One of `names`, any case (RFC 5234 section 2.3: ASCII letters
        only, so not the Kelvin sign, whose lower case is "k"); its index."""
        word = self.s[self.i:self.i + 3]
        for k, n in enumerate(names):
            if word.isascii() and word.lower() == n.lower():
                self.i += 3
                return k
        self.fail(what)

    def literal(self, ch, what):
        if self.peek() != ch:
            self.fail(what)
        self.i += 1

    # -- section 3.2.2: white space and comments

    def fws(self):
        """Section 3.2.2: FWS = ([*WSP CRLF] 1*WSP); True if consumed.
        Not the obsolete obs-FWS of section 4.2: at most one line break,
        and it must be followed by white space."""
        j = self.i
        while j < len(self.s) and self.s[j] in WSP:
            j += 1
        n = self.line_break(j)
        if n and j + n < len(self.s) and self.s[j + n] in WSP:
            # [*WSP CRLF] then 1*WSP
            j += n
            while j < len(self.s) and self.s[j] in WSP:
                j += 1
            self.i = j
            return True
        if j > self.i:
            # No line break (or one not followed by WSP, which is left
            # unconsumed): just 1*WSP.
            self.i = j
            return True
        return False

    def need_fws(self, what):
        if not self.fws():
            self.fail(f"white space {what}")

    def comment(self):
        """Section 3.2.2:
        comment  = "(" *([FWS] ccontent) [FWS] ")"
        ccontent = ctext / quoted-pair / comment
        ctext    = %d33-39 / %d42-91 / %d93-126   (printable but ( ) \\)
        quoted-pair = "\\" (VCHAR / WSP)            (section 3.2.1)
        RFC 6532 section 3.2 adds UTF8-non-ascii to ctext and VCHAR: any
        non-ASCII character (the text is a str, so it was valid UTF-8).
        True if a comment was consumed."""
        if self.peek() != "(":
            return False
        start = self.i
        self.i += 1
        while True:
            self.fws()
            c = self.peek()
            if c == ")":
                self.i += 1
                return True
            if c == "(":
                self.comment()  # nested
            elif c == "\\":
                q = self.peek(1)
                if not q or not ("\x21" <= q <= "\x7e" or q in WSP or q >= "\x80"):
                    self.fail("a quoted-pair (VCHAR or WSP after the backslash)")
                self.i += 2
            elif c and ("\x21" <= c <= "\x27" or "\x2a" <= c <= "\x5b" or "\x5d" <= c <= "\x7e"
                        or c >= "\x80"):
                self.i += 1
            elif not c:
                self.i = start
                self.fail("the end of the comment that starts here")
            else:
                self.fail("ctext, a quoted-pair, a comment or ')'")

    def cfws(self):
        """Section 3.2.2: CFWS = (1*([FWS] comment) [FWS]) / FWS; True if
        consumed."""
        start = self.i
        while True:
            mark = self.i
            self.fws()
            if not self.comment():
                self.i = mark
                break
        self.fws()
        return self.i > start

    # -- section 3.3: date and time

    def date_time(self):
        """date-time = [ day-of-week "," ] date time [CFWS]"""
        wday = self.day_of_week()
        day = self.day()
        month = self.name(MONTHS, "a month name (Jan ... Dec)") + 1
        year = self.year()
        hour, minute, second = self.time_of_day()
        zone, offset = self.zone()
        self.cfws()
        if self.i != len(self.s):
            self.fail("the end (only comments and white space may follow the zone)")

        # The semantics of section 3.3.
        if year < 1900:
            raise Invalid(f"year {year}: section 3.3 says the year is 1900 or later")
        last = days_in_month(year, month)
        if not 1 <= day <= last:
            raise Invalid(f"day {day}: {MONTHS[month - 1]} {year} has days 1 to {last}")
        if hour > 23 or minute > 59 or second > 60:
            raise Invalid(f"time of day {hour:02}:{minute:02}:{second:02} is outside "
                          "00:00:00 to 23:59:60 (section 3.3)")
        days = days_from_civil(year, month, day)
        if wday is not None and wday != weekday(days):
            raise Invalid(f"{DAY_NAMES[wday]}: {day} {MONTHS[month - 1]} {year} is a "
                          f"{DAY_NAMES[weekday(days)]} (section 3.3: the day of the week "
                          "must be the one the date implies)")
        # Local time minus the offset is UTC; 23:59:60 is one second past
        # 23:59:59, the same instant as the next day's 00:00:00 in unix time.
        unix = days * 86400 + hour * 3600 + minute * 60 + second - offset * 60
        return DateTime(unix, zone, offset)

    def day_of_week(self):
        """[ day-of-week "," ], day-of-week = ([FWS] day-name); the day's
        index (Mon = 0) or None when there is none."""
        mark = self.i
        self.fws()
        c = self.peek()
        if c and c not in DIGITS:
            # Not the day of the month: it must be a day name and a comma.
            k = self.name(DAY_NAMES, "a day name (Mon ... Sun) or the day of the month")
            self.literal(",", "',' after the day of the week")
            return k
        # No day of the week: the white space belongs to `day`.
        self.i = mark
        return None

    def day(self):
        """day = ([FWS] 1*2DIGIT FWS)"""
        self.fws()
        d = self.digits(1, 2, "the day of the month (1 or 2 digits)")
        self.need_fws("after the day of the month")
        return d

    def year(self):
        """year = (FWS 4*DIGIT FWS)"""
        self.need_fws("before the year")
        y = self.digits(4, sys.maxsize, "a year of 4 or more digits")
        self.need_fws("after the year")
        return y

    def time_of_day(self):
        """time-of-day = hour ":" minute [ ":" second ], 2DIGIT each"""
        h = self.digits(2, 2, "the hour (2 digits)")
        self.literal(":", "':' after the hour")
        m = self.digits(2, 2, "the minute (2 digits)")
        s = 0
        if self.peek() == ":":
            self.i += 1
            s = self.digits(2, 2, "the second (2 digits)")
        return h, m, s

    def zone(self):
        """zone = (FWS ( "+" / "-" ) 4DIGIT): (as written, minutes east)"""
        self.need_fws("before the zone")
        start = self.i
        sign = self.peek()
        if not sign or sign not in "+-":
            self.fail("a zone '+HHMM' or '-HHMM' (zone names are obsolete, section 4.3)")
        self.i += 1
        hhmm = self.digits(4, 4, "4 digits of the zone")
        hh, mm = divmod(hhmm, 100)
        if mm > 59:
            self.i = start
            self.fail("a zone whose minutes are 00 to 59")
        # Section 3.3: "+" east of UTC, "-" west; "-0000" is UTC too.
        offset = (hh * 60 + mm) * (1 if sign == "+" else -1)
        return self.s[start:self.i], offset


# ---------------------------------------------------------------- calendar


def is_leap(y):
    """Gregorian leap year (the calendar section 3.3 refers to)."""
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def days_in_month(y, m):
    if m == 2:
        return 29 if is_leap(y) else 28
    return 30 if m in (4, 6, 9, 11) else 31


def days_from_civil(y, m, d):
    """Days from 1970-01-01 to the Gregorian date y-m-d (negative before):
    counting from 1 March, so that a leap day is the last of its year."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400                               # [0, 399]
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1  # [0, 365]
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy     # [0, 146096]
    return era * 146097 + doe - 719468


def weekday(days):
    """Mon = 0 ... Sun = 6 for a day count from days_from_civil:
    1970-01-01 was a Thursday."""
    return (days + 3) % 7


# --------------------------------------------------------------- self-test


def unescape(field):
    r"""The vectors file's escapes: \n, \r, \t stand for LF, CR, TAB;
    anything else (e.g. `\)`) is literal."""
    out = []
    i = 0
    while i < len(field):
        if field[i] == "\\" and i + 1 < len(field) and field[i + 1] in "nrt":
            out.append({"n": "\n", "r": "\r", "t": "\t"}[field[i + 1]])
            i += 2
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def read_vectors(path):
    """[(line number, expected unix seconds or None, date, why)]. A line:
    `+ UNIX | DATE | why` or `- | DATE | why`; the fields are split at the
    first and at the last " | ", so DATE keeps any other spaces."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            head, sep, rest = line.partition(" | ")
            date, sep2, why = rest.rpartition(" | ")
            if not sep or not sep2:
                raise ValueError(f"{path}:{n}: not `+ UNIX | DATE | why` or `- | DATE | why`: {line!r}")
            kind, _, unix = head.partition(" ")
            if kind == "+":
                want = int(unix)
            elif kind == "-" and not unix.strip():
                want = None
            else:
                raise ValueError(f"{path}:{n}: starts with neither '+ UNIX' nor '-': {line!r}")
            out.append((n, want, unescape(date), why))
    return out


def python_unix(text):
    """email.utils' reading of `text` (unix seconds), or None if it
    cannot parse it (it rejects a leap second, for one)."""
    try:
        dt = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if dt is None:
        return None
    if dt.tzinfo is None:
        # "-0000": a naive datetime meaning UTC.
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp())


def sweep():
    """For each month from 1900 to 2100: its first and its last day (a
    random time of day and zone each), written by
    email.utils.format_datetime and parsed back, against datetime's own
    arithmetic; the same dates with a wrong day of the week, and the day
    after the month's last, must be refused. A list of failures."""
    rng = random.Random(5322)
    bad = []
    for year in range(1900, 2101):
        for month in range(1, 13):
            last = (datetime.date(year + month // 12, month % 12 + 1, 1) - datetime.timedelta(days=1)).day
            for day in (1, last):
                # datetime's zones stay within a day (the grammar allows +-9959).
                mins = rng.randrange(-23 * 60 - 59, 23 * 60 + 60)
                tz = datetime.timezone(datetime.timedelta(minutes=mins))
                t = datetime.datetime(year, month, day, rng.randrange(24), rng.randrange(60),
                                      rng.randrange(60), tzinfo=tz)
                text = email.utils.format_datetime(t)
                if parse(text) != int(t.timestamp()):
                    bad.append(f"{text!r}: parsed {parse(text)}, datetime says {int(t.timestamp())}")
                wrong = DAY_NAMES[(t.weekday() + rng.randrange(1, 7)) % 7] + text[3:]
                if parse(wrong) is not None:
                    bad.append(f"{wrong!r}: accepted with the wrong day of the week")
            past = f"{last + 1} {MONTHS[month - 1]} {year} 12:00 +0000"
            if parse(past) is not None:
                bad.append(f"{past!r}: accepted a day past the month's end")
    return bad


def main(argv):
    path = argv[1] if len(argv) > 1 else VECTORS
    passed = failed = 0
    crossed = skipped = 0
    for n, want, text, why in read_vectors(path):
        where = f"{os.path.relpath(path) if path == VECTORS else path}:{n} {text!r} ({why})"
        got = parse(text)
        problems = []
        if got != want:
            if want is None:
                problems.append(f"accepted as {got}; the grammar does not allow it")
            elif got is None:
                problems.append(f"refused ({why_not(text)}); want {want}")
            else:
                problems.append(f"parsed as {got}, want {want}")
        if want is not None:
            # An independent implementation, where it can read the text.
            py = python_unix(text)
            if py is None:
                skipped += 1
            else:
                crossed += 1
                if py != want:
                    problems.append(f"email.utils.parsedate_to_datetime says {py}, the vector {want}")
        if problems:
            failed += 1
            print(f"FAIL {where}: " + "; ".join(problems))
        else:
            passed += 1
    print(f"rfc5322: cross-checked {crossed} valid vectors with email.utils.parsedate_to_datetime "
          f"({skipped} it cannot parse)")
    bad = sweep()
    if bad:
        failed += 1
        print("FAIL calendar sweep 1900-2100:\n  " + "\n  ".join(bad[:20]))
    else:
        passed += 1
        print("rfc5322: calendar sweep 1900-2100 against datetime: ok")
    print(f"rfc5322: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
