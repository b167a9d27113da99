package proxy

import (
	"bufio"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
)

// writeRequest writes r to legacy as ReverseProxy with newReverseProxy's
// Rewrite would: hop-by-hop fields dropped, the client's Host kept,
// X-Forwarded-For extending the client's chain, X-Forwarded-Host and
// -Proto set, unparsable query parameters removed, no User-Agent added.
// It reads r without changing it: the shadow event is built from it later.
// host stands in for an empty Host (HTTP/1.0), as the URL's host does there.
func writeRequest(bw *bufio.Writer, r *http.Request, host string, body []byte) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(r.URL.EscapedPath())
	if r.URL.ForceQuery || r.URL.RawQuery != "" {
		bw.WriteByte('?')
		bw.WriteString(cleanQueryParams(r.URL.RawQuery))
	}
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	if r.Host != "" {
		host = r.Host
	}
	bw.WriteString(host)
	bw.WriteString("\r\n")

	conn := r.Header["Connection"]
	for k, vs := range r.Header {
		// A field the Connection field names is hop-by-hop too.
		if requestSkips(k) || (len(conn) > 0 && hasToken(conn, k)) {
			continue
		}
		if k == "User-Agent" {
			if len(vs) == 0 || vs[0] == "" {
				continue // as Request.Write: one, and none when empty
			}
			vs = vs[:1]
		}
		for _, v := range vs {
			writeField(bw, k, v)
		}
	}
	if hasToken(r.Header["Te"], "trailers") {
		bw.WriteString("Te: trailers\r\n")
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		bw.WriteString("X-Forwarded-For: ")
		for _, prior := range r.Header["X-Forwarded-For"] {
			writeValue(bw, prior)
			bw.WriteString(", ")
		}
		bw.WriteString(ip)
		bw.WriteString("\r\n")
	}
	writeField(bw, "X-Forwarded-Host", r.Host)
	if r.TLS == nil {
		bw.WriteString("X-Forwarded-Proto: http\r\n")
	} else {
		bw.WriteString("X-Forwarded-Proto: https\r\n")
	}
	if n := int64(len(body)); n > 0 || r.Method == "POST" || r.Method == "PUT" || r.Method == "PATCH" {
		bw.WriteString("Content-Length: ")
		bw.Write(strconv.AppendInt(bw.AvailableBuffer(), n, 10))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
	bw.Write(body)
}

// requestSkips names the fields writeRequest drops or writes itself.
func requestSkips(k string) bool {
	switch k {
	case "Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
		"Te", "Trailer", "Transfer-Encoding", "Upgrade",
		"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto",
		"Host", "Content-Length":
		return true
	}
	return false
}

// hasToken reports whether a comma-separated field holds token.
func hasToken(vs []string, token string) bool {
	for _, v := range vs {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(textproto.TrimString(t), token) {
				return true
			}
		}
	}
	return false
}

func writeField(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	writeValue(bw, v)
	bw.WriteString("\r\n")
}

// writeValue writes a field value as Header.Write does: line breaks become
// spaces and the ends are trimmed, so a value cannot smuggle a field.
func writeValue(bw *bufio.Writer, v string) {
	if strings.ContainsAny(v, "\r\n") {
		v = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ").Replace(v)
	}
	bw.WriteString(textproto.TrimString(v))
}

// cleanQueryParams is ReverseProxy's: a query with parameters that do not
// parse (a ';' or a bad escape) is re-encoded without them.
func cleanQueryParams(s string) string {
	reencode := func(s string) string {
		v, _ := url.ParseQuery(s)
		return v.Encode()
	}
	for i := 0; i < len(s); {
		switch s[i] {
		case ';':
			return reencode(s)
		case '%':
			if i+2 >= len(s) || !ishex(s[i+1]) || !ishex(s[i+2]) {
				return reencode(s)
			}
			i += 3
		default:
			i++
		}
	}
	return s
}

func ishex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
