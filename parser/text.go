package parser

// textBuf holds the text of a builder's innermost element: a slice of the
// input while it comes in one token, a copy once it does not.
type textBuf struct {
	text  []byte // text of the innermost element so far
	owned bool   // text is in tbuf, not a slice of the input
	tbuf  []byte
}

// addText appends a text token to the innermost element's text. A comment
// or processing instruction splits an element's text into several tokens;
// buffered says t lives in the scanner's buffer, which the next text
// token overwrites, so it is copied at once.
func (b *textBuf) addText(t []byte, buffered bool) {
	switch {
	case b.text == nil && !b.owned && !buffered:
		b.text = t
	case !b.owned:
		b.tbuf = append(append(b.tbuf[:0], b.text...), t...)
		b.text, b.owned = b.tbuf, true
	default:
		b.tbuf = append(b.tbuf, t...)
		b.text = b.tbuf
	}
}
