package mapping

import "time"

// parseISO parses the ISO 8601 shapes ERPs send — YYYY-MM-DD, optionally
// followed by T or space, hh:mm[:ss[.fraction]] and Z or ±hh:mm / ±hhmm —
// without time.Parse's layout machinery. A missing zone means loc. It is
// strict: anything else returns ok=false and the caller tries time.Parse.
func parseISO(s string, loc *time.Location) (t time.Time, ok bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return time.Time{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) {
		return time.Time{}, false
	}
	if len(s) == 10 {
		return time.Date(year, time.Month(month), day, 0, 0, 0, 0, loc), true
	}
	if (s[10] != 'T' && s[10] != ' ') || len(s) < 16 || s[13] != ':' {
		return time.Time{}, false
	}
	hour, ok1 := digits(s[11:13])
	minute, ok2 := digits(s[14:16])
	if !ok1 || !ok2 || hour > 23 || minute > 59 {
		return time.Time{}, false
	}
	rest := s[16:]
	sec, nsec := 0, 0
	if len(rest) >= 3 && rest[0] == ':' {
		var ok bool
		if sec, ok = digits(rest[1:3]); !ok || sec > 59 {
			return time.Time{}, false
		}
		rest = rest[3:]
		if len(rest) > 1 && rest[0] == '.' {
			i, scale := 1, 100000000
			for ; i < len(rest) && rest[i] >= '0' && rest[i] <= '9'; i++ {
				nsec += int(rest[i]-'0') * scale
				scale /= 10
			}
			if i == 1 {
				return time.Time{}, false
			}
			rest = rest[i:]
		}
	}
	switch {
	case rest == "":
	case rest == "Z":
		loc = time.UTC
	case len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') && rest[3] == ':',
		len(rest) == 5 && (rest[0] == '+' || rest[0] == '-'):
		zh, ok1 := digits(rest[1:3])
		zm, ok2 := digits(rest[len(rest)-2:])
		if !ok1 || !ok2 || zh > 23 || zm > 59 {
			return time.Time{}, false
		}
		off := zh*3600 + zm*60
		if rest[0] == '-' {
			off = -off
		}
		loc = time.FixedZone("", off)
		if off == 0 {
			loc = time.UTC
		}
	default:
		return time.Time{}, false
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, loc), true
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// appendAlisQI formats t as AlisQI's "2006-01-02 15:04:05" (or the date part).
func appendAlisQI(b []byte, t time.Time, dateOnly bool) []byte {
	y, m, d := t.Date()
	b = append4(b, y)
	b = append(b, '-')
	b = append2(b, int(m))
	b = append(b, '-')
	b = append2(b, d)
	if dateOnly {
		return b
	}
	hh, mm, ss := t.Clock()
	b = append(b, ' ')
	b = append2(b, hh)
	b = append(b, ':')
	b = append2(b, mm)
	b = append(b, ':')
	return append2(b, ss)
}

func append2(b []byte, n int) []byte { return append(b, byte('0'+n/10), byte('0'+n%10)) }

func append4(b []byte, n int) []byte {
	if n < 0 || n > 9999 {
		return time.Date(n, 1, 1, 0, 0, 0, 0, time.UTC).AppendFormat(b, "2006")
	}
	return append(b, byte('0'+n/1000), byte('0'+n/100%10), byte('0'+n/10%10), byte('0'+n%10))
}
