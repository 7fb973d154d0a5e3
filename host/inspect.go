package host

import (
	"context"
	"errors"
	"sync"

	"github.com/docker-liverestore/dlr/engine"
)

// inspectWorkers is how many GET /containers/{id}/json calls run at once:
// one at a time, 300 containers took dockerd's whole answer time in turn;
// a few at a time keep a loaded 2-core host responsive.
const inspectWorkers = 4

// inspectAll inspects each listed container, inspectWorkers at a time, and
// returns the details in the listing's order; nil for a container removed
// since the listing. Any other error ends it.
func inspectAll(ctx context.Context, c *engine.Client, list []engine.Container) ([]*engine.ContainerDetail, error) {
	out := make([]*engine.ContainerDetail, len(list))
	errs := make([]error, len(list))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	sem := make(chan struct{}, inspectWorkers)
	for i, ct := range list {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			d, err := c.Inspect(ctx, ct.ID)
			var se *engine.StatusError
			switch {
			case errors.As(err, &se):
			case err != nil:
				errs[i] = err
				cancel()
			default:
				out[i] = &d
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return nil, err
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
