package signer_test

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/hlsgate/hlsgate/signer"
)

// exampleRing is a fixed ring so the examples' output is reproducible. Real
// keys come from `hlsgate keygen` and never appear in source.
func exampleRing() *signer.KeyRing {
	ring, err := signer.ParseKeyRing(`
# primary: signs new tokens
k2603:aGxzZ2F0ZS1leGFtcGxlLWtleS0yMDI2LTAzLTAwMDE=
# previous key: still verifies tokens it signed
k2602:aGxzZ2F0ZS1leGFtcGxlLWtleS0yMDI2LTAyLTAwMDE=
`)
	if err != nil {
		panic(err)
	}
	return ring
}

func ExampleSigner_Sign() {
	s := signer.New(exampleRing(), signer.Options{BindIP: signer.BindIPPrefix, BindUA: true})
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	sid, _ := signer.ParseSessionID("00112233445566778899aabbccddeeff")
	client := signer.Client{IP: netip.MustParseAddr("198.51.100.7"), UserAgent: "ExamplePlayer/1.0"}

	// Bucketed expiry: every reload of a live playlist within the same 10 s
	// gets the same token, so URIs are stable.
	tok := s.Sign(signer.Claims{
		UserID:         42,
		SessionID:      sid,
		StreamID:       7,
		SessionExpires: now.Add(12 * time.Hour),
		Expires:        signer.ExpiryBucket(now, 30*time.Second, 10*time.Second),
	}, client)
	fmt.Println(tok)
	fmt.Println(len(tok), "characters")
	// Output:
	// AQVrMjYwMyoAESIzRFVmd4iZqrvM3e7_B2qcYo08AcixNXsdVBJFlAj_zKHNBuD7ns0GMsUnuOMUrdEnDOUdSDuQHA
	// 90 characters
}

func ExampleSigner_Verify() {
	s := signer.New(exampleRing(), signer.Options{BindIP: signer.BindIPPrefix, BindUA: true, Leeway: 5 * time.Second})
	const tok = "AQVrMjYwMyoAESIzRFVmd4iZqrvM3e7_B2qcYo08AcixNXsdVBJFlAj_zKHNBuD7ns0GMsUnuOMUrdEnDOUdSDuQHA"
	now := time.Date(2026, 3, 4, 5, 6, 20, 0, time.UTC)
	client := signer.Client{IP: netip.MustParseAddr("198.51.100.99"), UserAgent: "ExamplePlayer/1.0"}

	c, err := s.Verify(tok, client, now)
	if err != nil {
		fmt.Println("refused:", err)
		return
	}
	fmt.Println("user", c.UserID, "stream", c.StreamID, "session", c.SessionID, "until", c.Expires)

	// The same token from another /24 is refused.
	client.IP = netip.MustParseAddr("203.0.113.5")
	_, err = s.Verify(tok, client, now)
	fmt.Println(errors.Is(err, signer.ErrIPMismatch), err)

	// And after expiry plus leeway it is refused whoever asks.
	_, err = s.Verify(tok, client, c.Expires.Add(6*time.Second))
	fmt.Println(errors.Is(err, signer.ErrExpired), err)
	// Output:
	// user 42 stream 7 session 00112233445566778899aabbccddeeff until 2026-03-04 05:06:40 +0000 UTC
	// true signer: token bound to another ip
	// true signer: token expired
}

func ExampleExpiryBucket() {
	for _, sec := range []int{0, 1, 9, 10} {
		now := time.Date(2026, 3, 4, 5, 6, sec, 0, time.UTC)
		fmt.Println(now.Format("15:04:05"), "->", signer.ExpiryBucket(now, 30*time.Second, 10*time.Second).Format("15:04:05"))
	}
	// Output:
	// 05:06:00 -> 05:06:30
	// 05:06:01 -> 05:06:40
	// 05:06:09 -> 05:06:40
	// 05:06:10 -> 05:06:40
}

func ExampleParseKeyRing() {
	ring := exampleRing()
	fmt.Println(ring, "primary", ring.Primary().ID)

	_, err := signer.ParseKeyRing("k1:c2hvcnQ=")
	fmt.Println(err)
	// Output:
	// KeyRing[k2603 k2602] primary k2603
	// parse key ring: line 1: signer: invalid key: secret of key "k1" is 5 bytes, need at least 32
}
