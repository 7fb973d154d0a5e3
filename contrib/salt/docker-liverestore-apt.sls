# Salt (Debian, Ubuntu): docker-liverestore installed by name from its
# package repository (docs/repository.md), then live restore on. Replace
# https://packages.example.com/dlr with where the repository is published;
# the repository's public key (docker-liverestore-archive-keyring.asc,
# published beside apt/ and rpm/) goes in the state tree beside this file.
# Signature checks stay on: apt trusts only that key for this source
# (Signed-By).
docker-liverestore-key:
  file.managed:
    - name: /etc/apt/keyrings/docker-liverestore.asc
    - source: salt://docker-liverestore/docker-liverestore-archive-keyring.asc
    - mode: '0644'
    - makedirs: true

docker-liverestore-source:
  file.managed:
    - name: /etc/apt/sources.list.d/docker-liverestore.sources
    - mode: '0644'
    - contents: |
        Types: deb
        URIs: https://packages.example.com/dlr/apt
        Suites: stable
        Components: main
        Signed-By: /etc/apt/keyrings/docker-liverestore.asc
    - require:
      - file: docker-liverestore-key

docker-liverestore:
  pkg.installed:
    - refresh: true
    - require:
      - file: docker-liverestore-source

dlr enable:
  cmd.run:
    - name: /usr/bin/dlr enable
    - unless: /usr/bin/dlr status --quiet
    - require:
      - pkg: docker-liverestore
