# Observatory - top-level Makefile.
#
#   make            build every program into build/bin (quiet; V=1 shows commands)
#   make test       install what is missing, build, run every test tier against
#                   a real Kafka broker and a real PostgreSQL server; ends with
#                   "N passed, N failed"
#   make demo       the same stack, then ingest ~/.claude/projects (or the
#                   shipped samples) and print a summary
#   make up / down / status    start, stop, inspect the local stack
#   make asan / valgrind       sanitizer build / unit tests under valgrind
#   make bench      benchmarks with their baselines (bench/)
#   make check / format        formatting check / apply .clang-format
#
# KAFKA_BOOTSTRAP / DATABASE_URL set in the environment: use those services
# instead of starting local ones.

SHELL := /bin/bash
.DEFAULT_GOAL := build

V ?= 0
ifeq ($(V),0)
Q := @
QUIET_CC = @echo "  CC      $<";
QUIET_LD = @echo "  LD      $@";
QUIET_GEN = @echo "  GEN     $@";
endif

BUILD ?= build
PKGS := rdkafka libpq avro-c libevent libevent_pthreads jansson libpcre2-8 libcrypto
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)
VERSION := $(shell cat VERSION 2>/dev/null || echo 0.1.0)
# Newest migration number: /readyz of the api requires the database at least there.
SCHEMA_VERSION := $(shell ls migrations/*.sql 2>/dev/null | sed -n 's|.*/0*\([0-9][0-9]*\)_.*|\1|p' | sort -n | tail -1)

OPT ?= -O2
SAN ?=
CC ?= gcc
CFLAGS := -std=c11 -D_GNU_SOURCE $(OPT) -g -Wall -Wextra -Werror -MMD -MP \
          -Icommon -I$(BUILD)/gen -DOBS_VERSION='"$(VERSION)"' -DOBS_SCHEMA_VERSION=$(SCHEMA_VERSION) $(SAN) $(PKG_CFLAGS) $(EXTRA_CFLAGS)
LDFLAGS := $(SAN) $(EXTRA_LDFLAGS)
LDLIBS := $(PKG_LIBS) -lpthread -lm

# ---- sources -----------------------------------------------------------------
COMMON_SRC := $(wildcard common/*.c)
GEN_SRC := $(BUILD)/gen/obs_schemas.c
SCHEMAS := $(wildcard schemas/*.avsc schemas/history/*.avsc)
PRODUCER_SRC := $(filter-out producer/main.c,$(wildcard producer/*.c))
WORKERS_SRC := $(filter-out workers/main.c,$(wildcard workers/*.c))
API_SRC := $(filter-out api/main.c,$(wildcard api/*.c))
TOOLS_SRC := $(filter-out tools/obsctl.c,$(wildcard tools/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
COMMON_OBJ := $(call obj,$(COMMON_SRC)) $(BUILD)/obj/gen/obs_schemas.o
PRODUCER_OBJ := $(call obj,$(PRODUCER_SRC))
WORKERS_OBJ := $(call obj,$(WORKERS_SRC))
API_OBJ := $(call obj,$(API_SRC))
TOOLS_OBJ := $(call obj,$(TOOLS_SRC))
LIBOBS := $(BUILD)/libobs.a

BINS := $(BUILD)/bin/obs-producer $(BUILD)/bin/obs-worker $(BUILD)/bin/obs-api $(BUILD)/bin/obsctl

# Unit tests: tests/unit/<tier>/test_*.c, each linked with its tier's objects.
UNIT_SRC := $(wildcard tests/unit/*/test_*.c)
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/unit/%,$(UNIT_SRC))

.SECONDARY:

.PHONY: build all deps test test-unit test-integration test-deploy demo up down status \
        asan valgrind bench bench-producer bench-workers bench-api check format clean kafka-fetch

build all: $(BINS) $(UNIT_BINS)

$(BUILD)/gen/obs_schemas.c: $(SCHEMAS) tools/embed-schemas.sh
	@mkdir -p $(dir $@)
	$(QUIET_GEN)bash tools/embed-schemas.sh $(SCHEMAS) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/obs_schemas.o: $(BUILD)/gen/obs_schemas.c
	@mkdir -p $(dir $@)
	$(QUIET_CC)$(CC) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(QUIET_CC)$(CC) $(CFLAGS) -c -o $@ $<

$(LIBOBS): $(COMMON_OBJ)
	$(QUIET_LD)$(AR) rcs $@ $^

$(BUILD)/bin/obs-producer: $(BUILD)/obj/producer/main.o $(PRODUCER_OBJ) $(LIBOBS)
	@mkdir -p $(dir $@)
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/obs-worker: $(BUILD)/obj/workers/main.o $(WORKERS_OBJ) $(LIBOBS)
	@mkdir -p $(dir $@)
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/obs-api: $(BUILD)/obj/api/main.o $(API_OBJ) $(LIBOBS)
	@mkdir -p $(dir $@)
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/obsctl: $(BUILD)/obj/tools/obsctl.o $(TOOLS_OBJ) $(LIBOBS)
	@mkdir -p $(dir $@)
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/common/%: $(BUILD)/obj/tests/unit/common/%.o $(LIBOBS)
	@mkdir -p $(dir $@)
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/unit/producer/%: $(BUILD)/obj/tests/unit/producer/%.o $(PRODUCER_OBJ) $(LIBOBS)
	@mkdir -p $(dir $@)
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/unit/workers/%: $(BUILD)/obj/tests/unit/workers/%.o $(WORKERS_OBJ) $(LIBOBS)
	@mkdir -p $(dir $@)
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/unit/api/%: $(BUILD)/obj/tests/unit/api/%.o $(API_OBJ) $(LIBOBS)
	@mkdir -p $(dir $@)
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(BUILD)/tests/unit/tools/%: $(BUILD)/obj/tests/unit/tools/%.o $(TOOLS_OBJ) $(LIBOBS)
	@mkdir -p $(dir $@)
	$(QUIET_LD)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The expected schema version is compiled into obs_pg.o: rebuild it when a
# migration is added.
$(BUILD)/obj/common/obs_pg.o: $(wildcard migrations/*.sql)

# Objects need the generated schema header directory to exist.
$(COMMON_OBJ) $(PRODUCER_OBJ) $(WORKERS_OBJ) $(API_OBJ): | $(BUILD)/gen/obs_schemas.c

# ---- setup and the local stack -------------------------------------------------
deps:
	$(Q)bash ops/local/deps.sh

kafka-fetch:
	$(Q)bash ops/local/kafka.sh fetch

up: deps build
	$(Q)bash ops/local/up.sh

down:
	$(Q)bash ops/local/down.sh

status:
	$(Q)bash ops/local/stack.sh status

demo: deps build
	$(Q)bash ops/local/demo.sh

# ---- tests ---------------------------------------------------------------------
# Everything: dependencies, build, unit, integration and end-to-end tiers.
test: deps
	$(Q)$(MAKE) --no-print-directory build
	$(Q)bash tests/run.sh all

test-unit: build
	$(Q)bash tests/run.sh unit

test-integration: build
	$(Q)bash tests/run.sh integration

test-deploy:
	$(Q)bash tests/deploy/run.sh

asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	    SAN="-fsanitize=address,undefined -fno-omit-frame-pointer" build
	$(Q)OBS_BUILD=build-asan bash tests/run.sh unit

valgrind: build
	$(Q)OBS_VALGRIND=1 bash tests/run.sh unit

# ---- benchmarks ---------------------------------------------------------------
bench: bench-producer bench-workers bench-api

bench-producer: deps build
	$(Q)bash bench/producer/run.sh

bench-workers: deps build
	$(Q)bash bench/workers/run.sh

bench-api: deps build
	$(Q)bash bench/api/run.sh

# ---- hygiene -------------------------------------------------------------------
FORMAT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
check:
	$(Q)command -v clang-format >/dev/null || apt-get install -y -qq clang-format >/dev/null
	$(Q)clang-format --dry-run --Werror $(FORMAT_SRC) && echo "format: ok"

format:
	$(Q)clang-format -i $(FORMAT_SRC)

clean:
	rm -rf $(BUILD) build-asan

-include $(shell find $(BUILD) build-asan -name '*.d' 2>/dev/null)
