# Reads `go test -bench` output whose benchmarks have zkv and blst sub-benchmarks and prints,
# per benchmark, the mean time of each and the ratio zkv/blst (below 1 means zkv is faster).
# Used by `make bench-bls`; -count N runs are averaged.
/^Benchmark/ {
	name = $1
	sub(/-[0-9]+$/, "", name)          # the -GOMAXPROCS suffix (absent at 1)
	n = split(name, parts, "/")
	impl = parts[n]
	if (impl != "zkv" && impl != "blst") next
	base = substr(name, 1, length(name) - length(impl) - 1)
	sub(/^Benchmark/, "", base)
	for (i = 2; i <= NF; i++) if ($(i+1) == "ns/op") { sum[base, impl] += $i; cnt[base, impl]++ }
	if (!(base in seen)) { seen[base] = 1; order[++nb] = base }
}
END {
	printf "%-28s %14s %14s %8s\n", "benchmark", "zkv", "blst", "zkv/blst"
	for (k = 1; k <= nb; k++) {
		b = order[k]
		if (cnt[b, "zkv"] == 0 || cnt[b, "blst"] == 0) continue
		z = sum[b, "zkv"] / cnt[b, "zkv"]; l = sum[b, "blst"] / cnt[b, "blst"]
		printf "%-28s %11.1f µs %11.1f µs %8.2f\n", b, z / 1000, l / 1000, z / l
	}
}
