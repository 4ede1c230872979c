package keys

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// maxKeystoreFile bounds what is read as one keystore: real ones are about 1 KiB.
const maxKeystoreFile = 64 << 10

// ReadKeystoreFile reads and structurally checks one keystore file.
func ReadKeystoreFile(path string) (*Keystore, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxKeystoreFile+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeystoreFile {
		return nil, fmt.Errorf("%w: larger than %d KiB", ErrInvalidKeystore, maxKeystoreFile>>10)
	}
	return ParseKeystore(b)
}

// KeystoreFileName is the name zkv gives a keystore: the EIP-2334 path with "/" as "_" (as the
// staking deposit CLI does) and the first 8 hex digits of the pubkey, so that names sort by
// path and never collide for different keys.
func KeystoreFileName(ks *Keystore) string {
	pk := pubkeyHex(ks)
	if len(pk) > 8 {
		pk = pk[:8]
	}
	if ks.Path == "" {
		return "keystore-" + pk + ".json"
	}
	return "keystore-" + strings.ReplaceAll(ks.Path, "/", "_") + "-" + pk + ".json"
}

// ErrExists: a write would replace an existing file.
var ErrExists = errors.New("keys: file exists")

// WriteFileAtomic writes data to dir/name with mode 0600 so that the file is either absent or
// complete, even across a crash: a temporary file in dir is written and fsynced, then linked to
// its name (which fails rather than replacing an existing file), and the directory is fsynced.
func WriteFileAtomic(dir, name string, data []byte) (string, error) {
	final := filepath.Join(dir, name)
	tmp, err := os.CreateTemp(dir, ".tmp-"+name+"-*") // CreateTemp uses mode 0600
	if err != nil {
		return "", err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName) // after the link, the name alone goes
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return "", fmt.Errorf("write %s: %w", final, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", fmt.Errorf("sync %s: %w", final, err)
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Link(tmpName, final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("%w: refusing to overwrite %s", ErrExists, final)
		}
		return "", err
	}
	if err := syncDir(dir); err != nil {
		return "", err
	}
	return final, nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// WriteKeystore writes ks into dir (created 0700 if missing) under KeystoreFileName, atomically
// and with mode 0600. It refuses to replace an existing file.
func WriteKeystore(dir string, ks *Keystore) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	b, err := ks.MarshalIndent()
	if err != nil {
		return "", err
	}
	return WriteFileAtomic(dir, KeystoreFileName(ks), b)
}

// keystoreFiles lists the keystore files of dir: regular *.json files, not hidden (temporary
// files of an interrupted write are hidden), sorted by name.
func keystoreFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".json") || !e.Type().IsRegular() {
			continue
		}
		files = append(files, filepath.Join(dir, n))
	}
	sort.Strings(files)
	return files, nil
}

// Info describes a keystore file without decrypting it.
type Info struct {
	File        string
	Pubkey      string // 0x-prefixed hex
	Path        string
	UUID        string
	Description string
}

// List reads every keystore in dir without decrypting: pubkeys and paths need no password.
// A file that is not a valid keystore is an error that names it.
func List(dir string) ([]Info, error) {
	files, err := keystoreFiles(dir)
	if err != nil {
		return nil, err
	}
	out := make([]Info, 0, len(files))
	for _, f := range files {
		ks, err := ReadKeystoreFile(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		pk := ""
		if ks.Pubkey != "" {
			pk = "0x" + pubkeyHex(ks)
		}
		out = append(out, Info{File: f, Pubkey: pk, Path: ks.Path, UUID: ks.UUID, Description: ks.Description})
	}
	return out, nil
}

// pubkeyHex is the keystore's pubkey as lower-case hex without a prefix (EIP-2335 writes it so;
// some tools add 0x).
func pubkeyHex(ks *Keystore) string {
	return strings.ToLower(strings.TrimPrefix(ks.Pubkey, "0x"))
}
