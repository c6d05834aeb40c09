# msp-intake: make demo | make test | make bench | make lint | make install

PYTHON ?= python3
# The service's interpreter: the system's, which the service user can run
# (a python3 under someone's home directory is not, with ProtectHome=yes).
INSTALL_PYTHON ?= $(shell [ -x /usr/bin/python3 ] && echo /usr/bin/python3 || echo python3)
VENV ?= .venv
PREFIX ?= /usr/local
DESTDIR ?=
SYSCONFDIR ?= /etc
UNITDIR ?= /lib/systemd/system
SYSUSERSDIR ?= /usr/lib/sysusers.d

BIN = $(VENV)/bin
STAMP = $(VENV)/.installed
LIBDIR = $(PREFIX)/lib/msp-intake

.PHONY: all demo test bench lint format install uninstall clean

all: test

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test,lint]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/msp-intake demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	@for script in tests/bench_*.py; do $(BIN)/python $$script || exit 1; done

lint: $(STAMP)
	$(BIN)/ruff check ari_app tests
	$(BIN)/ruff format --check ari_app tests

format: $(STAMP)
	$(BIN)/ruff format ari_app tests

# The package goes into its own virtual environment under $(LIBDIR). With
# DESTDIR set (packaging), paths inside the environment drop the DESTDIR part.
install:
	$(INSTALL_PYTHON) -m venv $(DESTDIR)$(LIBDIR)/venv
	$(DESTDIR)$(LIBDIR)/venv/bin/pip install --quiet .
	if [ -n "$(DESTDIR)" ]; then \
	  grep -rlI -- "$(DESTDIR)" $(DESTDIR)$(LIBDIR)/venv/bin \
	    $(DESTDIR)$(LIBDIR)/venv/pyvenv.cfg | xargs -r sed -i "s|$(DESTDIR)||g"; \
	fi
	install -d $(DESTDIR)$(PREFIX)/bin
	ln -sf $(LIBDIR)/venv/bin/msp-intake $(DESTDIR)$(PREFIX)/bin/msp-intake
	install -d $(DESTDIR)$(SYSCONFDIR)/asterisk/msp-intake
	install -m 0644 dialplan/*.conf asterisk-conf/*.conf \
	  $(DESTDIR)$(SYSCONFDIR)/asterisk/msp-intake/
	install -d -m 0750 $(DESTDIR)$(SYSCONFDIR)/msp-intake
	[ -e $(DESTDIR)$(SYSCONFDIR)/msp-intake/msp-intake.conf ] || \
	  install -m 0640 ari_app/data/msp-intake.conf \
	    $(DESTDIR)$(SYSCONFDIR)/msp-intake/msp-intake.conf
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR)
	sed "s|@BINDIR@|$(PREFIX)/bin|" ari_app/data/msp-intake.service \
	  > $(DESTDIR)$(UNITDIR)/msp-intake.service
	install -m 0644 ari_app/data/msp-intake.sysusers \
	  $(DESTDIR)$(SYSUSERSDIR)/msp-intake.conf
	@echo "Installed. Next: systemd-sysusers; chgrp msp-intake $(SYSCONFDIR)/msp-intake;"
	@echo "the #include lines in README.md; systemctl enable --now msp-intake"

uninstall:
	rm -rf $(DESTDIR)$(LIBDIR) $(DESTDIR)$(PREFIX)/bin/msp-intake
	rm -rf $(DESTDIR)$(SYSCONFDIR)/asterisk/msp-intake
	rm -f $(DESTDIR)$(UNITDIR)/msp-intake.service
	rm -f $(DESTDIR)$(SYSUSERSDIR)/msp-intake.conf

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
