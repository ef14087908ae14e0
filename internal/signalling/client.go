package signalling

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Dialer opens tracker connections. The zero value is ready to use.
type Dialer struct {
	HTTPHeader http.Header  // extra upgrade headers (e.g. Authorization: Bearer TOKEN)
	HTTPClient *http.Client // nil → http.DefaultClient
	Queue      int          // received messages buffered before reading stops; default 64
}

// Client is one joined peer's tracker connection. Reconnecting is the caller's job.
type Client struct {
	ws      *websocket.Conn
	welcome Welcome
	msgs    chan Message
	done    chan struct{}
	once    sync.Once

	mu  sync.Mutex
	err error
}

// Dial connects to url (ws://host/tracker), joins and waits for the welcome, with the
// zero Dialer.
func Dial(ctx context.Context, url string, j Join) (*Client, error) {
	var d Dialer
	return d.Dial(ctx, url, j)
}

// Dial connects to url, sends j and waits for the welcome. A refusal is returned as an
// error wrapping ErrRejected (and *Error for "error" refusals).
func (d *Dialer) Dial(ctx context.Context, url string, j Join) (*Client, error) {
	ws, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{
		HTTPHeader: d.HTTPHeader,
		HTTPClient: d.HTTPClient,
	})
	if err != nil {
		return nil, fmt.Errorf("signalling: dial %s: %w", url, err)
	}
	ws.SetReadLimit(4 << 20)
	c := &Client{ws: ws, msgs: make(chan Message, max(d.Queue, 64)), done: make(chan struct{})}
	if err := c.Send(ctx, &j); err != nil {
		ws.CloseNow()
		return nil, err
	}
	m, err := c.read(ctx)
	if err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("signalling: join %s/%s: %w", j.Stream, j.Rendition, err)
	}
	switch m := m.(type) {
	case *Welcome:
		c.welcome = *m
	case *Error:
		ws.CloseNow()
		return nil, fmt.Errorf("%w: %w", ErrRejected, m)
	case *Banned:
		ws.CloseNow()
		return nil, fmt.Errorf("%w: banned: %s", ErrRejected, m.Reason)
	default:
		ws.CloseNow()
		return nil, fmt.Errorf("signalling: join: unexpected %q before welcome", m.Type())
	}
	go c.readLoop()
	return c, nil
}

func (c *Client) read(ctx context.Context) (Message, error) {
	_, b, err := c.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	return DecodeServer(b)
}

// readLoop keeps reading (which also answers the tracker's pings) and hands messages
// over; when the buffer is full it waits, so a stuck consumer eventually times out.
func (c *Client) readLoop() {
	defer close(c.msgs)
	for {
		m, err := c.read(context.Background())
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		select {
		case c.msgs <- m:
		case <-c.done:
			return
		}
	}
}

// ID returns the peer id the tracker assigned.
func (c *Client) ID() string { return c.welcome.PeerID }

// Welcome returns the join answer: id, policy, first neighbours and first stripe
// (Count 0: not a seeder; later changes arrive as *Stripe from Recv).
func (c *Client) Welcome() Welcome { return c.welcome }

// Recv returns the next server message (*Neighbours, *Signal, *Policy, *Stripe,
// *Banned or *Error). After the connection ends it returns an error
// wrapping ErrClosed (and the close cause, e.g. a websocket.CloseError).
func (c *Client) Recv(ctx context.Context) (Message, error) {
	select {
	case m, ok := <-c.msgs:
		if !ok {
			c.mu.Lock()
			err := c.err
			c.mu.Unlock()
			return nil, fmt.Errorf("%w: %w", ErrClosed, err)
		}
		return m, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Send writes one client message.
func (c *Client) Send(ctx context.Context, m Message) error {
	b, err := Encode(m)
	if err != nil {
		return err
	}
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("signalling: send %s: %w", m.Type(), err)
	}
	return nil
}

// Signal relays d to neighbour to.
func (c *Client) Signal(ctx context.Context, to string, d SignalData) error {
	return c.Send(ctx, &Signal{To: to, Data: d})
}

// Close leaves the swarm and closes the connection.
func (c *Client) Close() error {
	first := false
	c.once.Do(func() { close(c.done); first = true })
	if !first {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second) // leaving is best effort
	defer cancel()
	_ = c.Send(ctx, &Leave{})
	err := c.ws.Close(websocket.StatusNormalClosure, "leave")
	// The tracker closes the connection once it has our leave: a close
	// handshake cut short by that is the normal end, not an error.
	var ce websocket.CloseError
	if err != nil && !errors.As(err, &ce) && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("signalling: close: %w", err)
	}
	return nil
}
