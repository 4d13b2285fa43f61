// Package schedule parses EventBridge schedule expressions, rate(...) and
// cron(...), exactly as EventBridge accepts them, and computes their next
// run so the local runner fires the same schedules the cloud would.
package schedule

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed expression.
type Schedule interface {
	// Next returns the first run strictly after t (UTC, as EventBridge).
	Next(t time.Time) time.Time
	// String returns the expression as written.
	String() string
}

// Parse validates expr and returns its schedule, or an error that says what
// EventBridge expects.
func Parse(expr string) (Schedule, error) {
	switch {
	case strings.HasPrefix(expr, "rate(") && strings.HasSuffix(expr, ")"):
		return parseRate(expr)
	case strings.HasPrefix(expr, "cron(") && strings.HasSuffix(expr, ")"):
		return parseCron(expr)
	}
	return nil, fmt.Errorf("schedule %q: want rate(value unit) or cron(minutes hours day-of-month month day-of-week year)", expr)
}

// Rate is rate(value unit).
type Rate struct {
	Every time.Duration
	expr  string
}

func parseRate(expr string) (*Rate, error) {
	inner := expr[len("rate(") : len(expr)-1]
	parts := strings.Fields(inner)
	if len(parts) != 2 {
		return nil, fmt.Errorf("schedule %q: rate takes a value and a unit, e.g. rate(5 minutes)", expr)
	}
	n, err := strconv.Atoi(parts[0])
	if err != nil || n <= 0 {
		return nil, fmt.Errorf("schedule %q: rate value must be a positive whole number", expr)
	}
	units := map[string]time.Duration{"minute": time.Minute, "hour": time.Hour, "day": 24 * time.Hour}
	unit := parts[1]
	singular := strings.TrimSuffix(unit, "s")
	d, ok := units[singular]
	if !ok {
		return nil, fmt.Errorf("schedule %q: rate unit must be minute(s), hour(s) or day(s)", expr)
	}
	// EventBridge insists on "1 minute" but "5 minutes".
	if n == 1 && unit != singular {
		return nil, fmt.Errorf("schedule %q: with value 1 the unit is singular (%s)", expr, singular)
	}
	if n > 1 && unit == singular {
		return nil, fmt.Errorf("schedule %q: with value %d the unit is plural (%ss)", expr, n, singular)
	}
	return &Rate{Every: time.Duration(n) * d, expr: expr}, nil
}

// Next returns t + the rate, truncated to the minute as EventBridge fires.
func (r *Rate) Next(t time.Time) time.Time {
	return t.UTC().Truncate(time.Minute).Add(r.Every)
}

func (r *Rate) String() string { return r.expr }

// Cron is cron(minutes hours day-of-month month day-of-week year), in UTC.
type Cron struct {
	minutes, hours, months, weekdays, years field
	days                                    field
	dayAny, weekdayAny                      bool // the "?" of each day field
	lastDay                                 bool // L in day-of-month
	weekdayNear                             int  // nW in day-of-month; 0 when unused
	lastWeekday                             int  // nL in day-of-week (1-7); 0 when unused
	nthWeekday, nth                         int  // d#n in day-of-week; 0 when unused
	expr                                    string
}

// field is a set of allowed values, as a bitmask (all ranges fit in 64 bits
// after the year offset).
type field uint64

func (f field) has(v int) bool { return v >= 0 && v < 64 && f&(1<<uint(v)) != 0 }

var monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
var dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

const yearBase = 1970 // years 1970-2199 accepted by EventBridge; stored as an offset

func parseCron(expr string) (*Cron, error) {
	inner := expr[len("cron(") : len(expr)-1]
	parts := strings.Fields(inner)
	if len(parts) != 6 {
		return nil, fmt.Errorf("schedule %q: cron takes 6 fields (minutes hours day-of-month month day-of-week year), found %d", expr, len(parts))
	}
	c := &Cron{expr: expr}
	var err error
	fail := func(name string, e error) (*Cron, error) {
		return nil, fmt.Errorf("schedule %q: %s: %v", expr, name, e)
	}
	if c.minutes, err = parseField(parts[0], 0, 59, nil); err != nil {
		return fail("minutes", err)
	}
	if c.hours, err = parseField(parts[1], 0, 23, nil); err != nil {
		return fail("hours", err)
	}
	if c.months, err = parseField(parts[3], 1, 12, monthNames); err != nil {
		return fail("month", err)
	}
	if err = c.parseYears(parts[5]); err != nil {
		return fail("year", err)
	}
	if err = c.parseDayOfMonth(parts[2]); err != nil {
		return fail("day-of-month", err)
	}
	if err = c.parseDayOfWeek(parts[4]); err != nil {
		return fail("day-of-week", err)
	}
	// EventBridge: exactly one of the two day fields is "?".
	if c.dayAny == c.weekdayAny {
		return nil, fmt.Errorf("schedule %q: exactly one of day-of-month and day-of-week must be ?", expr)
	}
	return c, nil
}

func (c *Cron) parseYears(s string) error {
	if s == "*" {
		c.years = 0 // any year
		return nil
	}
	// Years do not fit a 64-bit mask from 1970; accept 1970-2199 and keep the
	// ones within the next 64 years, which is all a schedule can reach.
	set, err := parseList(s, yearBase, 2199, nil)
	if err != nil {
		return err
	}
	for _, y := range set {
		if off := y - yearBase - yearWindowStart; off >= 0 && off < 64 {
			c.years |= 1 << uint(off)
		}
	}
	if c.years == 0 {
		c.years = 1 << 63 // years outside the window: never fires within it
	}
	return nil
}

// yearWindowStart is the offset from 1970 of the first year Next can reach.
const yearWindowStart = 2000 - yearBase

func (c *Cron) parseDayOfMonth(s string) error {
	switch {
	case s == "?":
		c.dayAny = true
		return nil
	case s == "L":
		c.lastDay = true
		return nil
	case strings.HasSuffix(s, "W"):
		n, err := strconv.Atoi(strings.TrimSuffix(s, "W"))
		if err != nil || n < 1 || n > 31 {
			return fmt.Errorf("%q: nW needs a day 1-31", s)
		}
		c.weekdayNear = n
		return nil
	}
	var err error
	c.days, err = parseField(s, 1, 31, nil)
	return err
}

func (c *Cron) parseDayOfWeek(s string) error {
	switch {
	case s == "?":
		c.weekdayAny = true
		return nil
	case strings.Contains(s, "#"):
		a, b, _ := strings.Cut(s, "#")
		d, err := parseValue(a, 1, 7, dayNames)
		if err != nil {
			return err
		}
		n, err := strconv.Atoi(b)
		if err != nil || n < 1 || n > 5 {
			return fmt.Errorf("%q: d#n needs n 1-5", s)
		}
		c.nthWeekday, c.nth = d, n
		return nil
	case len(s) > 1 && strings.HasSuffix(s, "L"):
		d, err := parseValue(strings.TrimSuffix(s, "L"), 1, 7, dayNames)
		if err != nil {
			return err
		}
		c.lastWeekday = d
		return nil
	}
	var err error
	c.weekdays, err = parseField(s, 1, 7, dayNames)
	return err
}

func parseField(s string, lo, hi int, names map[string]int) (field, error) {
	vals, err := parseList(s, lo, hi, names)
	if err != nil {
		return 0, err
	}
	var f field
	for _, v := range vals {
		f |= 1 << uint(v)
	}
	return f, nil
}

// parseList expands "*", "a", "a-b", "a/n", "a-b/n", "*/n" and comma lists.
func parseList(s string, lo, hi int, names map[string]int) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		step := 1
		if base, st, ok := strings.Cut(part, "/"); ok {
			n, err := strconv.Atoi(st)
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("%q: step must be a positive number", part)
			}
			step, part = n, base
		}
		from, to := lo, hi
		switch {
		case part == "*":
		case strings.Contains(part, "-"):
			a, b, _ := strings.Cut(part, "-")
			var err error
			if from, err = parseValue(a, lo, hi, names); err != nil {
				return nil, err
			}
			if to, err = parseValue(b, lo, hi, names); err != nil {
				return nil, err
			}
			if from > to {
				return nil, fmt.Errorf("%q: range runs backwards", part)
			}
		default:
			v, err := parseValue(part, lo, hi, names)
			if err != nil {
				return nil, err
			}
			from = v
			if step == 1 {
				to = v
			}
		}
		for v := from; v <= to; v += step {
			out = append(out, v)
		}
	}
	return out, nil
}

func parseValue(s string, lo, hi int, names map[string]int) (int, error) {
	if v, ok := names[strings.ToUpper(s)]; ok {
		return v, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if v < lo || v > hi {
		return 0, fmt.Errorf("%d is outside %d-%d", v, lo, hi)
	}
	return v, nil
}

func (c *Cron) String() string { return c.expr }

// Next returns the first minute after t that matches, or the zero time when
// none does within the years the expression allows.
func (c *Cron) Next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	limit := t.AddDate(70, 0, 0)
	for t.Before(limit) {
		if !c.yearOK(t.Year()) {
			t = time.Date(t.Year()+1, 1, 1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if !c.months.has(int(t.Month())) {
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if !c.dayOK(t) {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, time.UTC)
			continue
		}
		if !c.hours.has(t.Hour()) {
			t = t.Truncate(time.Hour).Add(time.Hour)
			continue
		}
		if !c.minutes.has(t.Minute()) {
			t = t.Add(time.Minute)
			continue
		}
		return t
	}
	return time.Time{}
}

func (c *Cron) yearOK(y int) bool {
	if c.years == 0 {
		return true
	}
	return c.years.has(y - yearBase - yearWindowStart)
}

func (c *Cron) dayOK(t time.Time) bool {
	last := time.Date(t.Year(), t.Month()+1, 0, 0, 0, 0, 0, time.UTC).Day()
	wd := int(t.Weekday()) + 1 // EventBridge: SUN=1
	switch {
	case c.lastDay:
		return t.Day() == last
	case c.weekdayNear > 0:
		return t.Day() == nearestWeekday(t.Year(), t.Month(), c.weekdayNear, last)
	case c.lastWeekday > 0:
		return wd == c.lastWeekday && t.Day()+7 > last
	case c.nth > 0:
		return wd == c.nthWeekday && (t.Day()-1)/7+1 == c.nth
	case c.dayAny:
		return c.weekdays.has(wd)
	default:
		return c.days.has(t.Day())
	}
}

// nearestWeekday is the weekday (Mon-Fri) nearest to day n of the month,
// never crossing into another month.
func nearestWeekday(y int, m time.Month, n, last int) int {
	if n > last {
		n = last
	}
	d := time.Date(y, m, n, 0, 0, 0, 0, time.UTC)
	switch d.Weekday() {
	case time.Saturday:
		if n == 1 {
			return 3
		}
		return n - 1
	case time.Sunday:
		if n == last {
			return n - 2
		}
		return n + 1
	}
	return n
}
