# qbridge — see README.md. Every target does its own set-up on a fresh machine
# (Go and Node are all it needs; npm packages land in .tools/).

SHELL     := /bin/bash
GO        ?= go
TOOLS     := $(CURDIR)/.tools
FUNCTIONS := $(notdir $(patsubst %/,%,$(wildcard functions/*/)))
GOFILES   := $(shell find functions shared -name '*.go' -not -name '*_test.go' 2>/dev/null) go.mod go.sum
LAMBDA_ENV   := GOOS=linux GOARCH=arm64 CGO_ENABLED=0
LAMBDA_FLAGS := -tags lambda.norpc -trimpath -ldflags "-s -w"
STATICCHECK  := $(TOOLS)/staticcheck
# The installation's specs, bundled into every function zip (specs/).
SPECS        ?= testdata/specs
FUZZTIME     ?= 30s

export AWS_EC2_METADATA_DISABLED := true
# The CDK's jsii runtime runs on the machine's Node 20, offline.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export CDK_DISABLE_VERSION_CHECK := 1
export CDK_DISABLE_CLI_TELEMETRY := true
export JSII_RUNTIME_PACKAGE_CACHE_ROOT := $(TOOLS)/jsii
CDK_CLI := $(TOOLS)/node/node_modules/.bin/cdk

.PHONY: all build run qbridge test test-unit emulators bench bench-flow bench-coldstart synth deploy fuzz lint clean

all: lint test

## build: one arm64 bootstrap per function, zipped into dist/<function>.zip
build: $(FUNCTIONS:%=dist/%.zip)

dist/%.zip: $(GOFILES) $(wildcard $(SPECS)/*.yaml)
	@mkdir -p dist/$*
	$(LAMBDA_ENV) $(GO) build $(LAMBDA_FLAGS) -o dist/$*/bootstrap ./functions/$*
	$(GO) run ./infra/tools/lambdazip -o $@ -specs $(SPECS) dist/$*/bootstrap
	@ls -l dist/$*/bootstrap $@ | awk '{print $$5, $$9}'

## run: the local stack (sandboxes when no credentials are configured); Ctrl-C stops it
run:
	$(GO) run ./infra/local run $(RUN_ARGS)

## qbridge: the local CLI (spec tools, map, run, invoke)
qbridge:
	$(GO) build -o bin/qbridge ./infra/local
	@echo "built bin/qbridge"

## test: every test, emulators included (started and stopped here)
test:
	$(GO) vet ./...
	infra/scripts/with-emulators.sh $(GO) test -count=1 ./...

## emulators: a shell with dynalite and fauxqs running (exit stops them)
emulators:
	infra/scripts/with-emulators.sh $(SHELL)

## test-unit: the tests that need no emulator (they skip, except with CI=true)
test-unit:
	$(GO) test ./...

## bench: micro-benchmarks (mapping ns/record, store capacity units, queue requests)
bench:
	infra/scripts/with-emulators.sh $(GO) test -run '^$$' -bench . -benchmem -benchtime 3x ./shared/store/... ./shared/queue/...
	$(GO) test -run '^$$' -bench . -benchmem ./shared/mapping/

## bench-flow: 10,000 events over 2,000 keys (x3 deliveries) through the real handlers; prints the figures
bench-flow:
	infra/scripts/with-emulators.sh $(GO) run ./infra/tools/benchflow

## bench-coldstart: each function's cold start against a bare aws-lambda-go hello, with the Runtime Interface Emulator
bench-coldstart:
	infra/scripts/coldstart.sh

## synth: the CloudFormation template, offline, into cdk.out/ (builds the zips first)
synth: build
	rm -rf cdk.out
	CDK_OUTDIR=$(CURDIR)/cdk.out QBRIDGE_ROOT=$(CURDIR) QBRIDGE_SPECS=$(CURDIR)/$(SPECS) $(GO) run ./infra/cdk

## deploy: cdk deploy to the account in your AWS credentials (see README, "Deploying")
deploy: build $(CDK_CLI)
	cd infra/cdk && QBRIDGE_ROOT=$(CURDIR) QBRIDGE_SPECS=$(abspath $(SPECS)) $(CDK_CLI) deploy --require-approval broadening \
		$(if $(ALARM_EMAIL),--parameters AlarmEmail=$(ALARM_EMAIL))

$(CDK_CLI):
	npm install --prefix $(TOOLS)/node --no-audit --no-fund --loglevel=error aws-cdk@2.1149.0

## fuzz: each fuzz target for FUZZTIME (default 30s)
fuzz:
	$(GO) test ./shared/spec -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./shared/mapping -run '^$$' -fuzz '^FuzzMap$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./shared/schedule -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./shared/record -run '^$$' -fuzz '^FuzzPath$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./shared/erp/generic -run '^$$' -fuzz '^FuzzReceive$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s
	$(GO) test ./shared/erp/businesscentral -run '^$$' -fuzz '^FuzzReceive$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

## lint: gofmt, go vet, staticcheck
lint: $(STATICCHECK)
	@unformatted=$$(gofmt -l functions shared infra 2>/dev/null); if [ -n "$$unformatted" ]; then echo "not gofmt'd:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

$(STATICCHECK):
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@v0.8.2

clean:
	rm -rf dist bin cdk.out
