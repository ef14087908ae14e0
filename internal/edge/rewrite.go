package edge

import (
	"bytes"
	"net/url"
)

var uriAttr = []byte(`URI="`)

// rewritePlaylist returns a copy of an HLS playlist in which every relative URI (URI
// lines and URI="..." attributes) carries ?token=tok. Players (hls.js, ffmpeg) do not
// propagate a playlist's query string to the URIs inside it, so without this a viewer
// token would only open the first playlist. Absolute URIs (another host) are left alone
// so a token never leaks to a third party.
func rewritePlaylist(body []byte, tok string) []byte {
	out := make([]byte, 0, len(body)+len(body)/4)
	for line := range bytes.Lines(body) {
		content := bytes.TrimRight(line, "\r\n")
		eol := line[len(content):]
		switch {
		case len(bytes.TrimSpace(content)) == 0:
			out = append(out, line...)
		case content[0] == '#':
			out = appendTagWithToken(out, content, tok)
			out = append(out, eol...)
		default:
			out = append(out, withToken(string(bytes.TrimSpace(content)), tok)...)
			out = append(out, eol...)
		}
	}
	return out
}

// appendTagWithToken appends a tag line with the token added to each URI="..." attribute.
func appendTagWithToken(out, tag []byte, tok string) []byte {
	for {
		i := bytes.Index(tag, uriAttr)
		if i < 0 {
			return append(out, tag...)
		}
		start := i + len(uriAttr)
		if i > 0 && tag[i-1] != ':' && tag[i-1] != ',' {
			// part of another attribute name (e.g. X-FOO-URI): copy and go on
			out = append(out, tag[:start]...)
			tag = tag[start:]
			continue
		}
		end := bytes.IndexByte(tag[start:], '"')
		if end < 0 {
			return append(out, tag...)
		}
		out = append(out, tag[:start]...)
		out = append(out, withToken(string(tag[start:start+end]), tok)...)
		tag = tag[start+end:]
	}
}

// withToken sets the token query parameter on a relative URI.
func withToken(uri, tok string) string {
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "" || u.Host != "" || u.Opaque != "" || uri == "" {
		return uri
	}
	q := u.Query()
	q.Set("token", tok)
	u.RawQuery = q.Encode()
	return u.String()
}
