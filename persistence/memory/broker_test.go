package memory_test

import (
	"testing"

	"github.com/jack-auto/jack"
	"github.com/jack-auto/jack/persistence/memory"
	"github.com/jack-auto/jack/persistence/storetest"
)

// The in-process broker serves one process, so its instances share nothing.
var features = storetest.BrokerFeatures{CrossInstance: false}

func TestBroker(t *testing.T) {
	t.Parallel()
	storetest.RunBroker(t, features, func(t *testing.T) jack.Broker {
		b := memory.NewBroker()
		t.Cleanup(func() { _ = b.Close() })
		return b
	})
}
