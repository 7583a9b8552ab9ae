// One watched subscription: the Guard's rights there and the Event Grid feed from it.
//
// - Reader: every check reads ARM (and nothing else) at subscription scope.
// - Role Based Access Control Administrator with an ABAC condition (generated from the role matrix,
//   infra/generated/rbac-condition.json): it can create/delete assignments only of the matrix roles,
//   and create them only for service principals. Never Owner or User Access Administrator.
// - A custom role with only the extra write actions remediation needs; cluster writes and run
//   command only when the matching parameter is on.
// - A Microsoft.Resources.Subscriptions system topic (in its own resource group) and event
//   subscriptions to the Event Grid function, filtered to the operations the route table needs.
targetScope = 'subscription'

param location string
param tags object
param environmentName string
param guardPrincipalId string
param remediateCluster bool
param inclusterChecks bool
param eventsResourceGroupName string
param eventSubscriptionsEnabled bool
param functionAppId string
param eventFunctionName string
param eventGridIdentityId string
param deadLetterStorageAccountId string
param deadLetterContainerName string

var roles = loadJsonContent('../generated/roles.json').builtin
var abac = loadJsonContent('../generated/rbac-condition.json')

var baseActions = [
  'Microsoft.ContainerService/managedClusters/trustedAccessRoleBindings/write' // trusted-access.binding
  'Microsoft.KubernetesConfiguration/register/action' // subscription.kubernetes-configuration-registered
  'Microsoft.Storage/storageAccounts/write' // storage.network-access (networkAcls)
]
var clusterActions = remediateCluster
  ? [
      'Microsoft.ContainerService/managedClusters/write' // CSI driver / snapshot controller
      'Microsoft.KubernetesConfiguration/extensions/write' // extension.installed
    ]
  : []
var runCommandActions = inclusterChecks
  ? [
      'Microsoft.ContainerService/managedClusters/runCommand/action' // cluster.velero-absent
    ]
  : []

resource guardReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, guardPrincipalId, roles.Reader)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.Reader)
    principalId: guardPrincipalId
    principalType: 'ServicePrincipal'
    description: 'AKS Backup Guard: read every prerequisite'
  }
}

resource guardRbacAdmin 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, guardPrincipalId, roles['Role Based Access Control Administrator'])
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Role Based Access Control Administrator'])
    principalId: guardPrincipalId
    principalType: 'ServicePrincipal'
    condition: abac.condition
    conditionVersion: abac.conditionVersion
    description: 'AKS Backup Guard: assign only the role-matrix roles, only to service principals'
  }
}

resource remediator 'Microsoft.Authorization/roleDefinitions@2022-04-01' = {
  name: guid(subscription().id, 'aks-backup-guard-remediator', environmentName)
  properties: {
    roleName: 'AKS Backup Guard Remediator (${environmentName}, ${subscription().subscriptionId})'
    description: 'The write actions AKS Backup Guard remediation needs beyond Reader and the constrained RBAC administrator.'
    type: 'CustomRole'
    assignableScopes: [subscription().id]
    permissions: [
      {
        actions: concat(baseActions, clusterActions, runCommandActions)
        notActions: []
        dataActions: []
        notDataActions: []
      }
    ]
  }
}

resource guardRemediator 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, guardPrincipalId, remediator.id)
  properties: {
    roleDefinitionId: remediator.id
    principalId: guardPrincipalId
    principalType: 'ServicePrincipal'
    description: 'AKS Backup Guard: remediation writes'
  }
}

resource eventsGroup 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: eventsResourceGroupName
  location: location
  tags: tags
}

module events 'events.bicep' = {
  name: 'guard-events-${take(uniqueString(subscription().id, environmentName), 8)}'
  scope: eventsGroup
  params: {
    tags: tags
    systemTopicName: 'evgt-guard-${take(uniqueString(subscription().id, environmentName), 8)}'
    eventSubscriptionsEnabled: eventSubscriptionsEnabled
    functionAppId: functionAppId
    eventFunctionName: eventFunctionName
    eventGridIdentityId: eventGridIdentityId
    deadLetterStorageAccountId: deadLetterStorageAccountId
    deadLetterContainerName: deadLetterContainerName
  }
}

output customRoleId string = remediator.id
output systemTopicId string = events.outputs.systemTopicId
