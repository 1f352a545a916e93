#!/usr/bin/python3
"""How Kong reads kong.conf, reimplemented for the tests.

An independent port (it shares no code with agent/config.c or the stand-in
tests/peers/kong) of what Kong does with the file it is given, so that a
test can check that the value kong-bootstrap meant is the value Kong gets.
Everything works on bytes, as Lua does (text is carried as latin-1 str so
that one character is one byte; results are decoded as UTF-8 at the end).

Kong's reading is two steps:

1. Penlight's pl.config (lunarmodules/Penlight, lua/pl/config.lua),
   called by Kong's conf_loader as

       pl_config.read(pl_stringio.open(f), { smart = false,
                                             list_delim = "_blank_" })

   (Kong/kong, kong/conf_loader/init.lua, load_config()).

   config.lines(file):
     * reads line by line (f:read(): without the "\\n"; a "\\r" stays);
     * skips blank lines (no %S) and lines matching '^%s*[;#]';
     * a line matching '\\\\%s*$' (a backslash, then optional blanks, at
       the end) is cut before the backslash and kept; the next kept line
       is appended to it as it stands (no trimming on either side);
       comment and blank lines in between are skipped; pending text at
       the end of the file is dropped.
   config.read(file, cnfg):
     * a line starting with '[' is a section '[name]' (nested table);
     * otherwise leading blanks are removed ('^%s*') and the line is split
       at the first match of '%s*=%s*' (keysep '='); without a match the
       line is a plain list item t[#t+1];
     * keys are variabilized: key:gsub('[^%w]', '_');
     * process_value(value):
         - if value:find(list_delim) (the Lua pattern "_blank_") the value
           is split with gmatch('[^_blank_]+') -- a character class -- and
           every piece is processed again: the result is a list;
         - elseif value:find('^[%d%+%-]') (convert_numbers): val =
           tonumber(value); if that fails and value:match(' kB$') then
           value = value:gsub(' kB', '') (every occurrence) and val =
           tonumber(value); a number replaces the string;
         - strings are then trimmed (trim_space: '^%s+' and '%s+$').
   tonumber() is LuaJIT's (lj_strscan_scan with STRSCAN_OPT_TONUM,
   LuaJIT/LuaJIT src/lj_strscan.c): optional leading blanks, optional sign,
   "inf"/"infinity"/"nan" (any case), decimal with optional '.' and 'e'
   exponent, "0x" hexadecimal with optional '.' and 'p' exponent, "0b"
   binary, optional trailing blanks; nothing else.

2. Kong's strip_comments(value) (kong/conf_loader/init.lua, load_config()):

       value = ngx.re.sub(value, [[\\s*(?<!\\\\)#.*$]], "")
       value = gsub(value, "\\\\#", "#")

   applied to every value. ngx.re.sub takes a number as its string form,
   LuaJIT's tostring(): "%.14g" (lj_strfmt_num, STRFMT_G14), "inf"/"-inf"
   for infinities. PCRE's \\s (no UTF mode) is space, \\t, \\n, \\v, \\f, \\r.
   A list value (from "_blank_") is not a string: Kong fails on it; this
   reader returns the list so that a comparison with the intended string
   fails.

Use:
    load_config_text(text) -> {key: str | list | dict}
    load_config_file(path)
"""
import math
import re

LUA_SPACE = " \t\n\x0b\x0c\r"        # %s / isspace() in the C locale
LIST_DELIM = "_blank_"


# ------------------------------------------------------------- LuaJIT --
class _NotANumber(Exception):
    pass


def _scan_exponent(s, i):
    """'e'/'p' exponent digits at s[i:] (sign allowed): (value, next index)."""
    neg = False
    if i < len(s) and s[i] in "+-":
        neg = s[i] == "-"
        i += 1
    if i >= len(s) or not s[i].isdigit() or not s[i].isascii():
        raise _NotANumber()
    j = i
    while j < len(s) and s[j] in "0123456789":
        j += 1
    x = int(s[i:j])
    return (-x if neg else x), j


def lua_tonumber(s):
    """LuaJIT's tonumber() of a string (lj_strscan_scan, STRSCAN_OPT_TONUM):
    a float, or None when it is not a number."""
    try:
        return _tonumber(s)
    except _NotANumber:
        return None


def _tonumber(s):
    i, n = 0, len(s)
    neg = False
    if n and not s[0].isdigit():
        while i < n and s[i] in LUA_SPACE:
            i += 1
        if i < n and s[i] in "+-":
            neg = s[i] == "-"
            i += 1
        if i < n and s[i] >= "A":          # "inf", "infinity", "nan"
            rest = s[i:].lower()
            if rest.startswith("inf"):
                val = -math.inf if neg else math.inf
                i += 3
                if s[i:i + 5].lower() == "inity":
                    i += 5
            elif rest.startswith("nan"):
                val = math.nan
                i += 3
            else:
                raise _NotANumber()
            while i < n and s[i] in LUA_SPACE:
                i += 1
            if i != n:
                raise _NotANumber()
            return val
    base, digits_ok = 10, "0123456789"
    if s[i:i + 1] == "0" and s[i + 1:i + 2] in ("x", "X"):
        base, digits_ok = 16, "0123456789abcdefABCDEF"
        i += 2
    elif s[i:i + 1] == "0" and s[i + 1:i + 2] in ("b", "B"):
        base, digits_ok = 2, "0123456789"    # lj_strscan: any decimal digit is scanned
        i += 2
    mant, frac, seen_dot, ndig = "", "", False, 0
    while i < n:
        c = s[i]
        if c in digits_ok:
            if seen_dot:
                frac += c
            else:
                mant += c
            ndig += 1
        elif c == ".":
            if seen_dot:
                raise _NotANumber()
            seen_dot = True
        else:
            break
        i += 1
    if ndig == 0:
        raise _NotANumber()
    exp = 0
    is_float = seen_dot
    if base >= 10 and i < n and s[i].lower() == ("p" if base == 16 else "e"):
        exp, i = _scan_exponent(s, i + 1)
        is_float = True
    # suffixes (i, u, l, ll ...) are refused without FFI options: only blanks
    while i < n and s[i] in LUA_SPACE:
        i += 1
    if i != n:
        raise _NotANumber()
    if base == 2:
        if is_float or any(c not in "01" for c in mant):
            raise _NotANumber()           # strscan_bin: digits above 1 fail
        val = float(int(mant, 2))
    elif base == 16:
        m = int(mant + frac, 16) if (mant + frac) else 0
        try:
            val = math.ldexp(float(m), exp - 4 * len(frac))
        except OverflowError:
            val = math.inf
    else:
        text = (mant or "0") + ("." + frac if frac else "") + ("e%d" % exp if exp else "")
        val = float(text)
    return -val if neg else val


def lua_number_tostring(x):
    """LuaJIT's tostring() of a number: "%.14g", "inf"/"-inf"/"nan"."""
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "-inf" if x < 0 else "inf"
    return "%.14g" % x


# ------------------------------------------------------------ Penlight --
def _lua_strip(s):
    i, j = 0, len(s)
    while i < j and s[i] in LUA_SPACE:
        i += 1
    while j > i and s[j - 1] in LUA_SPACE:
        j -= 1
    return s[i:j]


def _has_nonspace(s):
    return any(c not in LUA_SPACE for c in s)


def _is_comment(s):
    return re.match(r"^[ \t\n\x0b\x0c\r]*[;#]", s) is not None


_CONT = re.compile(r"\\[ \t\n\x0b\x0c\r]*$")


def penlight_lines(text):
    """pl.config.lines over the text of a file (latin-1 str)."""
    physical = text.split("\n")
    if physical and physical[-1] == "":
        physical.pop()            # f:read() gives no empty line after the last "\n"
    pending = ""
    for l in physical:
        if not _has_nonspace(l) or _is_comment(l):
            continue
        m = _CONT.search(l)
        if m:
            pending = pending + l[:m.start()]
        elif pending == "":
            yield l
        else:
            yield pending + l
            pending = ""
    # text pending at the end (last line ended in '\') is dropped, as in Penlight


def _variabilize(key):
    return re.sub(r"[^0-9A-Za-z]", "_", key)


def penlight_process_value(value, list_delim=LIST_DELIM):
    if list_delim and list_delim in value:
        pieces = re.findall("[^%s]+" % re.escape(list_delim), value)
        return [penlight_process_value(p, list_delim) for p in pieces]
    if value[:1] and value[0] in "0123456789+-":
        val = lua_tonumber(value)
        if val is None and value.endswith(" kB"):
            value = value.replace(" kB", "")
            val = lua_tonumber(value)
        if val is not None:
            return val
    return _lua_strip(value)


_KEYSEP = re.compile(r"[ \t\n\x0b\x0c\r]*=[ \t\n\x0b\x0c\r]*")


def penlight_read(text, list_delim=LIST_DELIM):
    """pl.config.read(file, {smart = false, list_delim = ...}) -> dict.
    Sections become nested dicts, plain lines integer keys."""
    top = t = {}
    for line in penlight_lines(text):
        if line.startswith("["):
            m = re.search(r"\[([^\]]+)\]", line)
            if not m:
                raise ValueError("pl.config: bad section line %r (Penlight errors)" % line)
            t = top
            t[_variabilize(m.group(1))] = {}
            t = t[_variabilize(m.group(1))]
            continue
        line = re.sub(r"^[ \t\n\x0b\x0c\r]*", "", line)
        m = _KEYSEP.search(line)
        if m:
            t[_variabilize(line[:m.start()])] = penlight_process_value(line[m.end():], list_delim)
        else:
            t[len([k for k in t if isinstance(k, int)]) + 1] = penlight_process_value(line, list_delim)
    return top


# ---------------------------------------------------------------- Kong --
_COMMENT = re.compile(r"[ \t\n\x0b\x0c\r]*(?<!\\)#.*$")


def kong_strip_comments(value):
    """Kong's strip_comments(); numbers become their tostring() first."""
    if isinstance(value, float):
        value = lua_number_tostring(value)
    if not isinstance(value, str):
        return value              # a list/table: Kong would fail on it
    value = _COMMENT.sub("", value, count=1)
    return value.replace("\\#", "#")


def _decode(v):
    if isinstance(v, str):
        return v.encode("latin-1").decode("utf-8", "surrogateescape")
    if isinstance(v, list):
        return [_decode(x) for x in v]
    if isinstance(v, dict):
        return {(_decode(k) if isinstance(k, str) else k): _decode(x) for k, x in v.items()}
    return v


def load_config_text(text):
    """Kong's load_config() of a kong.conf given as str (UTF-8) or bytes:
    {key: value as Kong has it}."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    conf = penlight_read(text.decode("latin-1"))
    out = {}
    for k, v in conf.items():
        if isinstance(v, dict):
            out[k] = {kk: kong_strip_comments(vv) for kk, vv in v.items()}
        else:
            out[k] = kong_strip_comments(v)
    return _decode(out)


def kong_array(value):
    """What Kong makes of a setting of type "array" (lua_ssl_trusted_certificate,
    plugins, headers, ...): kong/conf_loader check_and_parse() splits the
    string at every "," (pl_stringx.split, empty items kept) and strips each
    item (pl_stringx.strip: Lua's %s).  A value that is not a string is
    returned unchanged, so that a comparison with the intended list fails."""
    if not isinstance(value, str):
        return value
    return [item.strip(LUA_SPACE) for item in value.split(",")]


def load_config_file(path):
    with open(path, "rb") as f:
        return load_config_text(f.read())


# ---------------------------------------------------------- self-check --
def _selftest():
    cases = {
        "a = b": "b",
        "a = b # c": "b",
        "a = b\\#c": "b#c",
        "a = 0123": "123",
        "a = 1e5": "100000",
        "a = 0x10": "16",
        "a = 0b101": "5",
        "a = +5": "5",
        "a = 10 kB": "10",
        "a = 1x kB": "1x",
        "a = 1 kB kB": "1",
        "a = +inf": "inf",
        "a = -Infinity": "-inf",
        "a = 1.": "1",
        "a = 0.1": "0.1",
        "a = -0": "-0",
        "a = 12345678901234567": "1.2345678901235e+16",
        "a = 0x": "0x",
        "a = 1e": "1e",
        "a = 0b2": "0b2",
        "a = 'q'": "'q'",
        "a.b-c = x": None,
        "a = x_blank_y": ["x", "y"],
        "a = ==": "==",
        "a = x=y": "x=y",
    }
    for line, want in cases.items():
        got = load_config_text(line + "\n")
        if want is None:
            assert got == {"a_b_c": "x"}, (line, got)
        else:
            assert got == {"a": want}, (line, got, want)
    assert load_config_text("# c\n ; c\na = x \\\n  y\n") == {"a": "x   y"}
    assert load_config_text("a = x\\\n# c\ny\n") == {"a": "xy"}
    assert load_config_text("a = x\\\n") == {}
    assert load_config_text("a = caf\u00e9 \\# \u00e9t\u00e9\n") == {"a": "caf\u00e9 # \u00e9t\u00e9"}
    assert kong_array(" system , /a.pem,,/b\t") == ["system", "/a.pem", "", "/b"]
    assert kong_array("system") == ["system"]
    print("kong_conf_reader: self-test ok")


if __name__ == "__main__":
    _selftest()
