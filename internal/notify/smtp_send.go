package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	netsmtp "net/smtp"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nicholas-fedor/shoutrrr/pkg/services/email/smtp"

	"github.com/windflow/monitor/internal/netpolicy"
)

// sendSMTP sends a plain-text mail as shoutrrr's smtp service would (same
// configuration: encryption, StartTLS, authentication, recipients), but
// dials through p and holds the whole session to ctx: the connection's
// deadline is ctx's and ctx's end closes it. shoutrrr's context bounds
// only its dial, so a server that accepts and never answers would keep a
// goroutine and a connection forever.
func sendSMTP(ctx context.Context, p *netpolicy.Policy, cfg *smtp.Config, subject, message string) error {
	conn, err := p.DialContext(ctx, "tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	// ctx's end cuts the session; the deadline a little later is a backstop.
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline.Add(time.Second))
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	tlsConfig := &tls.Config{
		ServerName:         cfg.Host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: cfg.SkipTLSVerify, //nolint:gosec // the URL asked for it (skiptlsverify=yes)
	}
	implicitTLS := cfg.Encryption == smtp.EncImplicitTLS ||
		cfg.Encryption == smtp.EncAuto && cfg.Port == smtp.ImplicitTLSPort
	if implicitTLS {
		conn = tls.Client(conn, tlsConfig)
	}
	c, err := netsmtp.NewClient(conn, cfg.Host)
	if err != nil {
		return fmt.Errorf("smtp greeting: %w", err)
	}
	defer func() { _ = c.Close() }()
	if err := c.Hello(smtpClientHost(cfg.ClientHost)); err != nil {
		return fmt.Errorf("smtp hello: %w", err)
	}
	if cfg.UseStartTLS && !implicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConfig); err != nil {
				return fmt.Errorf("smtp starttls: %w", err)
			}
		} else if cfg.RequireStartTLS {
			return errors.New("smtp starttls: the server does not offer it")
		}
	}
	if auth := smtpAuth(cfg); auth != nil {
		if err := c.Auth(auth); err != nil {
			return fmt.Errorf("smtp authentication: %w", err)
		}
	}
	var errs []error
	for _, to := range cfg.ToAddresses {
		if err := sendMail(c, cfg, to, subject, message); err != nil {
			errs = append(errs, fmt.Errorf("smtp to recipient %d: %w", len(errs)+1, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return c.Quit()
}

// sendMail sends one mail to one recipient over c.
func sendMail(c *netsmtp.Client, cfg *smtp.Config, to, subject, message string) error {
	if err := c.Mail(cfg.FromAddress); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	from := cfg.FromAddress
	if cfg.FromName != "" {
		from = mime.QEncoding.Encode("utf-8", headerText(cfg.FromName)) + " <" + cfg.FromAddress + ">"
	}
	headers := []string{
		"Subject: " + mime.QEncoding.Encode("utf-8", headerText(subject)),
		"Date: " + time.Now().Format(time.RFC1123Z),
		"To: " + to,
		"From: " + from,
		"MIME-Version: 1.0",
		"Content-Type: text/plain; charset=utf-8",
	}
	if _, err := fmt.Fprintf(w, "%s\r\n\r\n%s", strings.Join(headers, "\r\n"), message); err != nil {
		_ = w.Close()
		return err
	}
	return w.Close()
}

// headerText is s on one line, for a mail header.
func headerText(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// smtpClientHost is the name sent in HELO/EHLO: the configured one, the
// machine's for "auto".
func smtpClientHost(configured string) string {
	if configured != "auto" {
		return configured
	}
	if name, err := os.Hostname(); err == nil {
		return name
	}
	return "localhost"
}

// smtpAuth is the authentication the configuration asks for (nil: none).
func smtpAuth(cfg *smtp.Config) netsmtp.Auth {
	switch cfg.Auth {
	case smtp.AuthTypes.Plain:
		return netsmtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host)
	case smtp.AuthTypes.CRAMMD5:
		return netsmtp.CRAMMD5Auth(cfg.Username, cfg.Password)
	case smtp.AuthTypes.OAuth2:
		return smtp.OAuth2Auth(cfg.Username, cfg.Password)
	}
	return nil
}
