package playlist

import (
	"fmt"
	"strings"
	"testing"
)

func TestAttrScanner(t *testing.T) {
	tests := []struct {
		name    string
		list    string
		want    string // name=value pairs, quoted values shown with quotes, joined by |
		wantErr string // substring of the error; "" for none
	}{
		{name: "empty", list: "", want: ""},
		{name: "single", list: "METHOD=NONE", want: "METHOD=NONE"},
		{name: "quoted and unquoted", list: `METHOD=AES-128,URI="k.bin",IV=0x1`, want: `METHOD=AES-128|URI="k.bin"|IV=0x1`},
		{name: "quoted comma and equals", list: `NAME="a,b=c",URI="u?x=1,2"`, want: `NAME="a,b=c"|URI="u?x=1,2"`},
		{name: "empty quoted", list: `URI=""`, want: `URI=""`},
		{name: "empty unquoted", list: `URI=,A=1`, want: `URI=|A=1`},
		{name: "resolution and float", list: `RESOLUTION=1920x1080,FRAME-RATE=29.970`, want: `RESOLUTION=1920x1080|FRAME-RATE=29.970`},
		{name: "spaces around", list: ` A = 1 , B = "x y" ,C=z `, want: `A=1|B="x y"|C=z`},
		{name: "space inside unquoted value", list: `A=x y,B=1`, want: `A=x y|B=1`},
		{name: "tabs", list: "A=1,\tB=2", want: "A=1|B=2"},
		{name: "trailing comma", list: `A=1,`, want: `A=1`},
		{name: "empty items", list: `,A=1,,B=2`, want: `A=1|B=2`},
		{name: "lower-case name tolerated", list: `uri="x",URI="y"`, want: `uri="x"|URI="y"`},
		{name: "duplicate names kept", list: `URI="a",URI="b"`, want: `URI="a"|URI="b"`},
		{name: "hex", list: `SCTE35-OUT=0xFC00,ID="x"`, want: `SCTE35-OUT=0xFC00|ID="x"`},

		{name: "no equals", list: `METHOD`, wantErr: "no '='"},
		{name: "no equals mid-list", list: `A=1,B,C=3`, want: `A=1`, wantErr: "no '='"},
		{name: "space in name", list: `A B=1`, wantErr: "no '='"},
		{name: "lone equals", list: `=1`, wantErr: "name expected"},
		{name: "unterminated quote", list: `URI="abc`, wantErr: "unterminated"},
		{name: "unterminated after comma", list: `A=1,URI="x,y`, want: `A=1`, wantErr: "unterminated"},
		{name: "quote inside unquoted", list: `A=x"y"`, wantErr: "quote inside"},
		{name: "bytes after closing quote", list: `URI="a"b,C=1`, wantErr: "instead of ','"},
		{name: "two quoted strings", list: `URI="a""b"`, wantErr: "instead of ','"},
		{name: "quote as name", list: `"A"=1`, wantErr: "name expected"},
		{name: "only a quote", list: `"`, wantErr: "name expected"},
		{name: "long garbage name clipped", list: strings.Repeat("N", 1000), wantErr: `"` + strings.Repeat("N", 40) + `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			s := newAttrScanner([]byte(tt.list))
			for s.next() {
				a := s.attr
				if string(a.value) != tt.list[a.start:a.end] {
					t.Errorf("value %q does not match offsets [%d:%d]", a.value, a.start, a.end)
				}
				v := string(a.value)
				if a.quoted {
					v = `"` + v + `"`
				}
				got = append(got, fmt.Sprintf("%s=%s", a.name, v))
			}
			if g := strings.Join(got, "|"); g != tt.want {
				t.Errorf("attributes\n got %s\nwant %s", g, tt.want)
			}
			switch {
			case tt.wantErr == "" && s.err != nil:
				t.Errorf("unexpected error: %v", s.err)
			case tt.wantErr != "" && (s.err == nil || !strings.Contains(s.err.Error(), tt.wantErr)):
				t.Errorf("error = %v, want one containing %q", s.err, tt.wantErr)
			}
			if s.next() {
				t.Error("next() = true after the end")
			}
		})
	}
}
