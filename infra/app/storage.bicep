// The Guard's own storage account: Functions host (AzureWebJobsStorage, identity-based), the Flex
// Consumption deployment package, the ledger tables, the work queues and Event Grid dead letters.
// Shared key access is disabled: every client authenticates with Microsoft Entra ID.
param location string
param tags object
@maxLength(24)
param name string
param containerNames array
param tableNames array
param queueNames array

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: 'Standard_LRS' }
  properties: {
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: { defaultAction: 'Allow', bypass: 'AzureServices' }
  }

  resource blobService 'blobServices' = {
    name: 'default'
    resource containers 'containers' = [for c in containerNames: { name: c }]
  }

  resource tableService 'tableServices' = {
    name: 'default'
    resource tables 'tables' = [for t in tableNames: { name: t }]
  }

  resource queueService 'queueServices' = {
    name: 'default'
    resource queues 'queues' = [for q in queueNames: { name: q }]
  }
}

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
output tableEndpoint string = account.properties.primaryEndpoints.table
output queueEndpoint string = account.properties.primaryEndpoints.queue
