package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestQuickstart_FreshClone follows the README as a newcomer would, on a fresh clone: the files
// git tracks (nothing else) copied to an empty directory, `make run` there with no environment
// of jack's, then the README's "Try it" block run by bash exactly as written (only its port
// moved off 3001). It passes when the customer's text got the assistant's reply and the data
// directory is the clone's ./data.
func TestQuickstart_FreshClone(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"git", "make", "bash", "curl", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed: the README's quick start needs it, so it cannot be followed here", tool)
		}
	}
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	clone := t.TempDir()
	copyTracked(t, root, clone)

	readme, err := os.ReadFile(filepath.Join(clone, "README.md"))
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(readme, []byte("# Jack\n\n```sh\nmake run ")), "the README must start with the two commands")
	script := quickstartBlock(t, string(readme))

	port := freePorts(t, 1)[0]
	env := newcomerEnv(port)
	serve := exec.Command("make", "run")
	serve.Dir, serve.Env = clone, env
	serve.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // go run's child too
	var serveLog bytes.Buffer
	serve.Stdout, serve.Stderr = &serveLog, &serveLog
	require.NoError(t, serve.Start())
	done := make(chan struct{})
	go func() { _ = serve.Wait(); close(done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-serve.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-serve.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	base := "http://localhost:" + strconv.Itoa(port)
	deadline := time.Now().Add(4 * time.Minute) // make run compiles first
	for {
		resp, err := http.Get(base + "/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-done:
			t.Fatalf("make run exited before it served:\n%s", serveLog.String())
		case <-time.After(200 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("make run did not serve %s/ready within 4 minutes:\n%s", base, serveLog.String())
		}
	}

	script = strings.ReplaceAll(script, "localhost:3001", "localhost:"+strconv.Itoa(port))
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir, cmd.Env = clone, env
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "the README's quick start failed:\n%s\nserver:\n%s", out, serveLog.String())
	t.Logf("quick start output:\n%s", out)

	// What the newcomer should see: the text and the assistant's answer in the conversation.
	sam := &client{tb: t, base: base}
	var signedIn authAnswer
	sam.must("POST", "/api/auth/login", map[string]string{"email": "sam@dealer.test", "password": "correct horse"}, http.StatusOK, &signedIn)
	sam.token = signedIn.Token
	deadline = time.Now().Add(20 * time.Second)
	for {
		var leads struct {
			Leads []struct{ ID, PhoneNumberNormalized string }
		}
		sam.must("GET", "/api/leads", nil, http.StatusOK, &leads)
		if len(leads.Leads) == 1 {
			require.Equal(t, "+16045550199", leads.Leads[0].PhoneNumberNormalized)
			var page struct {
				Messages []struct{ Content, SentBy, Status string }
			}
			sam.must("GET", "/api/leads/"+leads.Leads[0].ID+"/messages", nil, http.StatusOK, &page)
			if len(page.Messages) == 2 && page.Messages[1].SentBy == "agent" && page.Messages[1].Content != "" {
				require.Contains(t, page.Messages[0].Content, "2021 Civic")
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reply from the assistant within 20 s of the quick start; server:\n%s", serveLog.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	_, err = os.Stat(filepath.Join(clone, "data", "jack.db"))
	require.NoError(t, err, "the embedded database lives in the clone's ./data, as the README says")
}

// copyTracked copies the files git tracks in root (as they are in the working tree) to dir,
// which is what a fresh clone of a clean checkout holds; with the files git does not track yet
// and does not ignore, so that uncommitted work is tried as it will be committed.
func copyTracked(t *testing.T, root, dir string) {
	t.Helper()
	ls := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	ls.Dir = root
	out, err := ls.Output()
	require.NoError(t, err)
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		src := filepath.Join(root, name)
		info, err := os.Lstat(src)
		if os.IsNotExist(err) {
			continue // deleted in the working tree, not yet committed
		}
		require.NoError(t, err)
		dst := filepath.Join(dir, name)
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		b, err := os.ReadFile(src)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(dst, b, info.Mode().Perm()))
	}
}

// quickstartBlock is the shell block under the README's <!-- quickstart --> marker.
func quickstartBlock(t *testing.T, readme string) string {
	t.Helper()
	_, after, ok := strings.Cut(readme, "<!-- quickstart -->\n```sh\n")
	require.True(t, ok, "README.md has no <!-- quickstart --> block")
	block, _, ok := strings.Cut(after, "\n```")
	require.True(t, ok, "the quick start block is not closed")
	return block
}

// newcomerEnv is this process's environment without any of jack's variables (a newcomer has
// none set), with PORT moved off 3001 so the test does not collide with a developer's server.
func newcomerEnv(port int) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case k == "PORT", k == "SERVER_URL", k == "DATABASE_URL", k == "REDIS_URL", k == "JWT_SECRET",
			strings.HasPrefix(k, "TWILIO_"), strings.HasPrefix(k, "ELEVENLABS_"), strings.HasPrefix(k, "JACK_"),
			strings.HasPrefix(k, "CLUSTER_"), strings.HasPrefix(k, "SMTP_"), strings.HasPrefix(k, "TEST_"):
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PORT="+strconv.Itoa(port))
}
