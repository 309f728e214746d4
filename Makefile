GO ?= go
BIN := bin/flowgate
SAMPLES := samples/flows/*.xml samples/flows/*.zip samples/flows/*.tar.gz samples/flows/rejets/*

.PHONY: build test bench demo validate-samples fuzz golden clean

build:
	$(GO) build -buildvcs=auto -o $(BIN) ./cmd/flowgate

test:
	$(GO) vet ./...
	@unformatted=$$(gofmt -l .); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) test -race ./...

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

# demo runs the hub on the bundled samples (see README).
demo: build
	./$(BIN) demo

# validate-samples checks the sample flows offline. Rejections are the point of
# half the samples, so validate's exit status 1 is expected.
validate-samples: build
	@./$(BIN) validate -directory samples/directory $(SAMPLES); status=$$?; \
	  if [ $$status -gt 1 ]; then exit $$status; fi

# fuzz runs the reader on arbitrary bytes, then the differential test of
# the XML scanner against xmllint (libxml2-utils).
fuzz:
	$(GO) test ./parser -run '^$$' -fuzz '^FuzzParse$$' -fuzztime 60s
	$(GO) test ./parser -run '^$$' -fuzz '^FuzzXMLLintAgreement$$' -fuzztime 60s

# golden refreshes the expected outputs of the samples after a deliberate change.
golden:
	$(GO) test ./cmd/flowgate -run Golden -update

clean:
	rm -rf bin
