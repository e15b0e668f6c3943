// oidc-provider: a real OpenID Connect provider for the local stack, so oauth2-proxy can be tested
// against the protocol rather than a mock. It is zitadel/oidc's example provider (package exampleop,
// with its in-memory storage) configured for one confidential web client and a set of test users.
//
// The example storage has no notion of groups, so groupsStorage below (our code) wraps it: it lets
// the client request the "groups" scope and asserts a "groups" claim in the ID token.
//
// The example provider encrypts its tokens with a fixed key, so this program refuses to listen
// anywhere but on loopback: it is a test component, never an identity provider for people.
//
// Configuration (flags, or the environment variables named in their help):
//
//	-issuer        http://127.0.0.1:PORT/  (the provider listens on this host and port)
//	-client-id     the web client's id; its secret comes from OIDC_PROVIDER_CLIENT_SECRET only,
//	               so it never shows in the process list
//	-redirect-uri  the client's one allowed redirect URI (oauth2-proxy's /oauth2/callback)
//	-users-file    JSON: [{"username":"alice","password":"…","email":"alice@example.test",
//	               "groups":["sre"]}]; the username is also the subject (sub)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"

	"golang.org/x/text/language"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

const scopeGroups = "groups"

type testUser struct {
	Username string   `json:"username"`
	Password string   `json:"password"`
	Email    string   `json:"email"`
	Groups   []string `json:"groups"`
}

// userStore implements storage.UserStore over the users file.
type userStore map[string]*storage.User

func (u userStore) GetUserByID(id string) *storage.User             { return u[id] }
func (u userStore) GetUserByUsername(username string) *storage.User { return u[username] }
func (u userStore) ExampleClientID() string                         { return storage.ServiceUserID }

// groupsStorage is the example storage plus a "groups" scope and claim.
type groupsStorage struct {
	*storage.Storage
	groups map[string][]string // by subject
}

// groupsClient is a registered client that may also ask for the "groups" scope, and gets the
// identity claims in its ID token: oauth2-proxy builds its session from the ID token.
type groupsClient struct{ op.Client }

func (c groupsClient) IsScopeAllowed(scope string) bool {
	return scope == scopeGroups || c.Client.IsScopeAllowed(scope)
}

func (c groupsClient) IDTokenUserinfoClaimsAssertion() bool { return true }

func (s *groupsStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return groupsClient{c}, nil
}

// SetUserinfoFromRequest fills the ID token's claims.
func (s *groupsStorage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, token op.IDTokenRequest, scopes []string) error {
	if err := s.Storage.SetUserinfoFromRequest(ctx, info, token, scopes); err != nil {
		return err
	}
	if slices.Contains(scopes, scopeGroups) {
		info.AppendClaims(scopeGroups, s.groups[token.GetSubject()])
	}
	return nil
}

func env(name, fallback string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return fallback
}

func loadUsers(path string) (userStore, map[string][]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	var list []testUser
	if err := json.Unmarshal(data, &list); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	users, groups := userStore{}, map[string][]string{}
	for _, u := range list {
		if u.Username == "" || u.Password == "" || u.Email == "" {
			return nil, nil, fmt.Errorf("%s: every user needs username, password and email", path)
		}
		if _, dup := users[u.Username]; dup {
			return nil, nil, fmt.Errorf("%s: user %q is listed twice", path, u.Username)
		}
		users[u.Username] = &storage.User{
			ID: u.Username, Username: u.Username, Password: u.Password,
			FirstName: u.Username, Email: u.Email, EmailVerified: true,
			PreferredLanguage: language.English,
		}
		groups[u.Username] = append([]string{}, u.Groups...)
	}
	return users, groups, nil
}

// loopbackAddr is the host:port the issuer names, refused unless it is a loopback IP.
func loopbackAddr(issuer string) (string, error) {
	u, err := url.Parse(issuer)
	if err != nil || u.Scheme != "http" || u.Port() == "" || u.Path != "/" {
		return "", fmt.Errorf("issuer %q: want http://127.0.0.1:PORT/", issuer)
	}
	if ip := net.ParseIP(u.Hostname()); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("issuer %q: this test provider listens on a loopback IP only", issuer)
	}
	return u.Host, nil
}

func run() error {
	issuer := flag.String("issuer", env("OIDC_PROVIDER_ISSUER", ""), "issuer URL http://127.0.0.1:PORT/ (OIDC_PROVIDER_ISSUER)")
	clientID := flag.String("client-id", env("OIDC_PROVIDER_CLIENT_ID", ""), "web client id (OIDC_PROVIDER_CLIENT_ID)")
	redirectURI := flag.String("redirect-uri", env("OIDC_PROVIDER_REDIRECT_URI", ""), "the client's redirect URI (OIDC_PROVIDER_REDIRECT_URI)")
	usersFile := flag.String("users-file", env("OIDC_PROVIDER_USERS_FILE", ""), "JSON list of test users (OIDC_PROVIDER_USERS_FILE)")
	flag.Parse()
	secret := os.Getenv("OIDC_PROVIDER_CLIENT_SECRET")
	if flag.NArg() > 0 || *clientID == "" || *redirectURI == "" || *usersFile == "" || secret == "" {
		return errors.New("need -issuer, -client-id, -redirect-uri, -users-file and OIDC_PROVIDER_CLIENT_SECRET in the environment")
	}
	addr, err := loopbackAddr(*issuer)
	if err != nil {
		return err
	}
	users, groups, err := loadUsers(*usersFile)
	if err != nil {
		return err
	}
	storage.RegisterClients(storage.WebClient(*clientID, secret, *redirectURI))
	store := &groupsStorage{Storage: storage.NewStorage(users), groups: groups}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	router := exampleop.SetupServer(*issuer, store, logger, false)
	logger.Info("listening", "issuer", *issuer, "client", *clientID, "users", len(users))
	return (&http.Server{Addr: addr, Handler: router}).ListenAndServe()
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "oidc-provider:", err)
		os.Exit(1)
	}
}
