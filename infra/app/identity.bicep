// Two user-assigned identities: the Guard's (ARM reads/writes, its storage, Key Vault, App Insights)
// and a separate one that Event Grid uses only to write dead letters (no other rights).
param location string
param tags object
param guardIdentityName string
param eventGridIdentityName string

resource guard 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: guardIdentityName
  location: location
  tags: tags
}

resource eventGrid 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: eventGridIdentityName
  location: location
  tags: tags
}

output guardIdentityId string = guard.id
output guardPrincipalId string = guard.properties.principalId
output guardClientId string = guard.properties.clientId
output eventGridIdentityId string = eventGrid.id
output eventGridPrincipalId string = eventGrid.properties.principalId
