# mod_poketto — build, run, test.
#
#   make          build/mod_poketto.so (apxs), build/libpoketto-core.a, build/poketto-admin
#   make run      install what is missing, build, serve on 127.0.0.1:$(PORT) (SQLite)
#   make test     install what is missing, unit tests, integration tests (3 MPMs x 2 DBs)
#   make debug    the same server as `make run`, single-process (httpd -X) under gdb
#   make unit     unit tests of src/core and src/store only
#   make fuzz     libFuzzer targets (tests/fuzz, ASan+UBSan), FUZZ_SECONDS each (60)

APXS    ?= $(shell command -v apxs 2>/dev/null || command -v apxs2 2>/dev/null || echo apxs)
CC      ?= gcc
BUILD   := build
PORT    ?= 8080

CORE_SRC  := $(sort $(wildcard src/core/*.c))
STORE_SRC := $(sort $(wildcard src/store/*.c))
MOD_SRC   := mod_poketto.c $(sort $(wildcard src/runtime/*.c src/http/*.c))
UNIT_SRC  := $(sort $(wildcard tests/unit/test_*.c))

CORE_OBJ  := $(CORE_SRC:%.c=$(BUILD)/obj/%.o)
STORE_OBJ := $(STORE_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN  := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

APR_CFLAGS := $(shell apr-1-config --cflags --cppflags --includes 2>/dev/null) \
              $(shell apu-1-config --includes 2>/dev/null)
APR_LIBS   := $(shell apr-1-config --link-ld --libs 2>/dev/null) \
              $(shell apu-1-config --link-ld --libs 2>/dev/null)
DEP_CFLAGS := -I/usr/include/libxml2
DEP_LIBS   := -ljansson -lcurl -lxml2 -lsqlite3
WARN       := -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers
INCS       := -I. -Isrc/core -Isrc/store -Isrc/runtime -Isrc/http
CFLAGS_ALL := -std=gnu99 -g -O2 -fPIC $(WARN) $(INCS) $(APR_CFLAGS) $(DEP_CFLAGS) $(CFLAGS)

FUZZ_SRC  := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BIN  := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_SECONDS ?= 60
CLANG     ?= clang-14

.PHONY: all deps run debug test unit fuzz clean

all: $(BUILD)/mod_poketto.so $(BUILD)/libpoketto-core.a $(BUILD)/poketto-admin \
     $(BUILD)/poketto-extract

$(BUILD)/obj/%.o: %.c $(wildcard src/*/*.h) mod_poketto.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/libpoketto-core.a: $(CORE_OBJ)
	ar rcs $@ $^

$(BUILD)/libpoketto-store.a: $(STORE_OBJ)
	ar rcs $@ $^

# The module: the glue, http and runtime compiled by apxs; store and core linked in
# from their (position-independent) static libraries.
$(BUILD)/mod_poketto.so: $(MOD_SRC) $(wildcard src/*/*.h) mod_poketto.h \
                         $(BUILD)/libpoketto-store.a $(BUILD)/libpoketto-core.a
	@mkdir -p $(BUILD)/apxs
	$(APXS) -c -o $(BUILD)/apxs/mod_poketto.la \
	    $(foreach f,-std=gnu99 $(WARN),-Wc,$(f)) $(INCS) $(DEP_CFLAGS) \
	    $(MOD_SRC) -Wl,--whole-archive $(BUILD)/libpoketto-store.a \
	    $(BUILD)/libpoketto-core.a -Wl,--no-whole-archive $(DEP_LIBS) >$(BUILD)/apxs.log 2>&1 \
	    || { cat $(BUILD)/apxs.log; exit 1; }
	cp $(BUILD)/apxs/.libs/mod_poketto.so $@

$(BUILD)/poketto-admin: tools/poketto-admin.c $(BUILD)/libpoketto-store.a \
                        $(BUILD)/libpoketto-core.a
	$(CC) $(CFLAGS_ALL) $< -o $@ $(BUILD)/libpoketto-store.a $(BUILD)/libpoketto-core.a \
	    $(APR_LIBS) $(DEP_LIBS)

# The extractor without a server: linked to src/core only.
$(BUILD)/poketto-extract: tools/poketto-extract.c $(BUILD)/libpoketto-core.a
	$(CC) $(CFLAGS_ALL) $< -o $@ $(BUILD)/libpoketto-core.a $(APR_LIBS) $(DEP_LIBS)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/pk_test.h $(BUILD)/libpoketto-store.a \
                  $(BUILD)/libpoketto-core.a
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit $< -o $@ $(BUILD)/libpoketto-store.a \
	    $(BUILD)/libpoketto-core.a $(APR_LIBS) $(DEP_LIBS)

# libFuzzer targets over src/core, with ASan and UBSan; each runs FUZZ_SECONDS.
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_common.h $(CORE_SRC) $(wildcard src/core/*.h)
	@mkdir -p $(dir $@) $(BUILD)/fuzz/corpus-$*
	$(CLANG) -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	    $(WARN) $(INCS) $(APR_CFLAGS) $(DEP_CFLAGS) $< $(CORE_SRC) -o $@ $(APR_LIBS) $(DEP_LIBS)

fuzz: deps $(FUZZ_BIN)
	@for f in $(FUZZ_BIN); do echo "== $$f ($(FUZZ_SECONDS) s)"; \
	    $$f -max_total_time=$(FUZZ_SECONDS) -timeout=1 -rss_limit_mb=2048 \
	        $(BUILD)/fuzz/corpus-$$(basename $$f) || exit 1; done

deps:
	@sh tools/deps.sh

unit: $(UNIT_BIN)
	@sh tools/unit.sh $(UNIT_BIN)

run: deps
	@$(MAKE) --no-print-directory all
	@PORT=$(PORT) sh tools/run.sh

debug: deps
	@$(MAKE) --no-print-directory all
	@PORT=$(PORT) sh tools/run.sh --debug

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BIN)
	@sh tools/test.sh $(UNIT_BIN)

clean:
	rm -rf $(BUILD) src/*/*.lo src/*/*.slo src/*/*.o mod_poketto.lo mod_poketto.slo \
	    mod_poketto.o src/*/.libs .libs
