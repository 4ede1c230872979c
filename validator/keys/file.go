package keys

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// maxKeystoreFile bounds what is read as one keystore: real ones are about 1 KiB.
const maxKeystoreFile = 64 << 10

// ReadKeystoreFile reads and structurally checks one keystore file.
func ReadKeystoreFile(path string) (*Keystore, error) {
	b, err := readKeystoreBytes(path)
	if err != nil {
		return nil, err
	}
	return ParseKeystore(b)
}

// readKeystoreBytes reads a file of at most maxKeystoreFile bytes.
func readKeystoreBytes(path string) ([]byte, error) {
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
	return b, nil
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
	if err := link(tmpName, final); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("%w: refusing to overwrite %s", ErrExists, final)
		}
		return "", noLinks(dir, err)
	}
	if err := syncDir(dir); err != nil {
		return "", err
	}
	return final, nil
}

// link is os.Link; tests replace it to play a file system without hard links.
var link = os.Link

// noLinks explains a failed link: FAT and exFAT (USB sticks) have no hard links and refuse every
// one with EPERM, which would otherwise read as a permission problem.
func noLinks(dir string, err error) error {
	if errors.Is(err, fs.ErrPermission) || errors.Is(err, errors.ErrUnsupported) {
		return fmt.Errorf("%w: files are written atomically with a hard link, and the file system of %s seems to have none (FAT and exFAT, common on USB sticks, do not): use a directory on another file system", err, dir)
	}
	return err
}

// PrepareDir creates dir (mode 0700) if it is missing and checks that keystores can be written
// into it the way WriteFileAtomic writes them (a temporary file linked to a second name; both
// are removed), so that a command refuses an unusable directory before the KDF work, and before
// it shows a mnemonic that no keystore would then use.
func PrepareDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".tmp-probe-*")
	if err != nil {
		return fmt.Errorf("keys: %s is not writable: %w", dir, err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keys: %w", err)
	}
	if err := link(name, name+"-link"); err != nil {
		return fmt.Errorf("keys: %w", noLinks(dir, err))
	}
	os.Remove(name + "-link")
	return nil
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
// files of an interrupted write are hidden), sorted by name. It also returns, apart, the *.json
// files that are not keystores by a rule that needs no parsing, so that a staking deposit CLI
// output folder loads: deposit_data-*.json, and any file whose JSON is an array (a keystore is
// an object). Anything else that fails to parse is a broken keystore, not skipped.
func keystoreFiles(dir string) (files, skipped []string, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		n := e.Name()
		if strings.HasPrefix(n, ".") || !strings.HasSuffix(n, ".json") || !e.Type().IsRegular() {
			continue
		}
		f := filepath.Join(dir, n)
		if strings.HasPrefix(n, "deposit_data-") || jsonArray(f) {
			skipped = append(skipped, f)
			continue
		}
		files = append(files, f)
	}
	sort.Strings(files)
	sort.Strings(skipped)
	return files, skipped, nil
}

// jsonArray reports whether the file's first non-space byte opens a JSON array. A file it cannot
// read is not an array: reading it as a keystore reports the error.
func jsonArray(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b, _ := io.ReadAll(io.LimitReader(f, 512))
	b = bytes.TrimLeft(b, " \t\r\n\ufeff")
	return len(b) > 0 && b[0] == '['
}

// logSkipped says which files were not read as keystores, so that a key in a misnamed file is
// not silently missing.
func logSkipped(log *slog.Logger, skipped []string) {
	if log != nil && len(skipped) > 0 {
		log.Info("skipped files that are not keystores (deposit_data-*.json, or a JSON array)", "files", strings.Join(skipped, ", "))
	}
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
// A file that is not a valid keystore is an error that names it; files that are not keystores
// at all (see keystoreFiles: deposit data) are not listed.
func List(dir string) ([]Info, error) {
	files, _, err := keystoreFiles(dir)
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
