# Salt (Fedora, RHEL and rebuilds): docker-liverestore installed by name
# from its package repository (docs/repository.md), then live restore on.
# Replace https://packages.example.com/dlr with where the repository is
# published; the repository's public key
# (docker-liverestore-archive-keyring.asc) goes in the state tree beside
# this file. dnf checks the metadata's signature (repo_gpgcheck) and every
# package's (gpgcheck).
docker-liverestore-key:
  file.managed:
    - name: /etc/pki/rpm-gpg/RPM-GPG-KEY-docker-liverestore
    - source: salt://docker-liverestore/docker-liverestore-archive-keyring.asc
    - mode: '0644'

docker-liverestore-repo:
  pkgrepo.managed:
    - name: docker-liverestore
    - humanname: docker-liverestore
    - baseurl: https://packages.example.com/dlr/rpm
    - gpgcheck: 1
    - repo_gpgcheck: 1
    - gpgkey: file:///etc/pki/rpm-gpg/RPM-GPG-KEY-docker-liverestore
    - require:
      - file: docker-liverestore-key

docker-liverestore:
  pkg.installed:
    - require:
      - pkgrepo: docker-liverestore-repo

dlr enable:
  cmd.run:
    - name: /usr/bin/dlr enable
    - unless: /usr/bin/dlr status --quiet
    - require:
      - pkg: docker-liverestore
