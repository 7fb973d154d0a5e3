# Puppet: docker-liverestore installed by name from its package repository
# (docs/repository.md), then live restore on. Set $repository to where the
# repository is published; the repository's public key
# (docker-liverestore-archive-keyring.asc, published beside apt/ and rpm/)
# goes in this module's files/. Signature checks stay on: apt trusts only
# that key for this source (Signed-By), dnf checks the metadata and every
# package (repo_gpgcheck, gpgcheck).
class profile::docker_liverestore (
  String $repository = 'https://packages.example.com/dlr',
) {
  case $facts['os']['family'] {
    'Debian': {
      file { '/etc/apt/keyrings/docker-liverestore.asc':
        ensure => file,
        mode   => '0644',
        source => 'puppet:///modules/profile/docker-liverestore-archive-keyring.asc',
      }
      file { '/etc/apt/sources.list.d/docker-liverestore.sources':
        ensure  => file,
        mode    => '0644',
        content => "Types: deb\nURIs: ${repository}/apt\nSuites: stable\nComponents: main\nSigned-By: /etc/apt/keyrings/docker-liverestore.asc\n",
      }
      exec { 'apt-get update for docker-liverestore':
        command     => '/usr/bin/apt-get update',
        refreshonly => true,
        subscribe   => File['/etc/apt/keyrings/docker-liverestore.asc', '/etc/apt/sources.list.d/docker-liverestore.sources'],
        before      => Package['docker-liverestore'],
      }
    }
    'RedHat': {
      file { '/etc/pki/rpm-gpg/RPM-GPG-KEY-docker-liverestore':
        ensure => file,
        mode   => '0644',
        source => 'puppet:///modules/profile/docker-liverestore-archive-keyring.asc',
      }
      yumrepo { 'docker-liverestore':
        descr         => 'docker-liverestore',
        baseurl       => "${repository}/rpm",
        enabled       => '1',
        gpgcheck      => '1',
        repo_gpgcheck => '1',
        gpgkey        => 'file:///etc/pki/rpm-gpg/RPM-GPG-KEY-docker-liverestore',
        require       => File['/etc/pki/rpm-gpg/RPM-GPG-KEY-docker-liverestore'],
        before        => Package['docker-liverestore'],
      }
    }
    default: {
      fail("docker-liverestore: no package repository for the ${facts['os']['family']} family")
    }
  }

  package { 'docker-liverestore':
    ensure => installed,
  }

  exec { 'dlr enable':
    command => '/usr/bin/dlr enable',
    unless  => '/usr/bin/dlr status --quiet',
    require => Package['docker-liverestore'],
  }
}
