# Chef: docker-liverestore installed by name from its package repository
# (docs/repository.md), then live restore on. Set repository to where the
# repository is published; the repository's public key
# (docker-liverestore-archive-keyring.asc, published beside apt/ and rpm/)
# goes in this cookbook's files/. Signature checks stay on: apt trusts only
# that key for this source (Signed-By), dnf checks the metadata and every
# package (repo_gpgcheck, gpgcheck).
repository = 'https://packages.example.com/dlr'

case node['platform_family']
when 'debian'
  cookbook_file '/etc/apt/keyrings/docker-liverestore.asc' do
    source 'docker-liverestore-archive-keyring.asc'
    mode '0644'
    notifies :update, 'apt_update[docker-liverestore]', :immediately
  end

  file '/etc/apt/sources.list.d/docker-liverestore.sources' do
    content "Types: deb\nURIs: #{repository}/apt\nSuites: stable\nComponents: main\n" \
            "Signed-By: /etc/apt/keyrings/docker-liverestore.asc\n"
    mode '0644'
    notifies :update, 'apt_update[docker-liverestore]', :immediately
  end

  apt_update 'docker-liverestore' do
    action :nothing
  end
when 'rhel', 'fedora', 'amazon'
  cookbook_file '/etc/pki/rpm-gpg/RPM-GPG-KEY-docker-liverestore' do
    source 'docker-liverestore-archive-keyring.asc'
    mode '0644'
  end

  yum_repository 'docker-liverestore' do
    description 'docker-liverestore'
    baseurl "#{repository}/rpm"
    gpgcheck true
    repo_gpgcheck true
    gpgkey 'file:///etc/pki/rpm-gpg/RPM-GPG-KEY-docker-liverestore'
  end
end

package 'docker-liverestore'

execute 'dlr enable' do
  command '/usr/bin/dlr enable'
  not_if '/usr/bin/dlr status --quiet'
end
